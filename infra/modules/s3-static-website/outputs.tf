output "bucket_name" {
  description = "Name of the website bucket (target of `aws s3 sync`)."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the website bucket."
  value       = aws_s3_bucket.this.arn
}

output "distribution_id" {
  description = "CloudFront distribution ID (target of the cache invalidation)."
  value       = aws_cloudfront_distribution.this.id
}

output "distribution_arn" {
  description = "CloudFront distribution ARN."
  value       = aws_cloudfront_distribution.this.arn
}

output "distribution_domain_name" {
  description = "CloudFront domain name; point the Route 53 alias of the custom domain here."
  value       = aws_cloudfront_distribution.this.domain_name
}

output "distribution_hosted_zone_id" {
  description = "Hosted zone ID for a Route 53 alias record to the distribution."
  value       = aws_cloudfront_distribution.this.hosted_zone_id
}

output "website_url" {
  description = "Public URL of the site: the custom domain when set, the CloudFront domain otherwise."
  value       = local.website_url
}
