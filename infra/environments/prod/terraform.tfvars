environment     = "prod"
sub_environment = "prod01"
domain_name     = "hibiji.com"
