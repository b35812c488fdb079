output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets, one per availability zone, in AZ order."
  value       = [for az in local.azs : aws_subnet.this[az].id]
}

output "security_group_ids" {
  description = "Security group IDs by tier: lambda, database, workers, kafka, endpoints."
  value = {
    lambda    = aws_security_group.lambda.id
    database  = aws_security_group.database.id
    workers   = aws_security_group.workers.id
    kafka     = aws_security_group.kafka.id
    endpoints = aws_security_group.endpoints.id
  }
}

output "interface_endpoint_ids" {
  description = "Interface VPC endpoint IDs by service."
  value       = { for k, e in aws_vpc_endpoint.interface : k => e.id }
}
