environment     = "dev"
sub_environment = "dev01"
domain_name     = "hibiji.com"
