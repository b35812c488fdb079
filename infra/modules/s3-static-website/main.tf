resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:The bucket only holds the rebuildable static export; cross-region replication buys nothing.
  #checkov:skip=CKV_AWS_18:CloudFront is the only reader; access is logged by CloudFront standard logging when enabled.
  #checkov:skip=CKV_AWS_145:SSE-S3 is enough for public web assets; SSE-KMS would need a key policy for CloudFront OAC.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to uploads of the static export.
  bucket        = var.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    id     = "expire-old-builds"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_cloudfront_origin_access_control" "this" {
  name                              = var.bucket_name
  description                       = "CloudFront access to ${var.bucket_name}"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

# Cache policies carry the guide's lifetimes: hashed Next.js assets for a year, HTML/JSON for an hour.
resource "aws_cloudfront_cache_policy" "assets" {
  name        = "${var.bucket_name}-assets"
  comment     = "Long cache for immutable static assets"
  min_ttl     = var.cache_ttl.assets
  default_ttl = var.cache_ttl.assets
  max_ttl     = var.cache_ttl.assets

  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_brotli = true
    enable_accept_encoding_gzip   = true
    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

resource "aws_cloudfront_cache_policy" "html" {
  name        = "${var.bucket_name}-html"
  comment     = "Short cache for HTML and JSON"
  min_ttl     = var.cache_ttl.no_cache
  default_ttl = var.cache_ttl.html
  max_ttl     = var.cache_ttl.html

  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_brotli = true
    enable_accept_encoding_gzip   = true
    cookies_config {
      cookie_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "none"
    }
  }
}

resource "aws_cloudfront_response_headers_policy" "this" {
  name    = "${var.bucket_name}-security-headers"
  comment = "Security headers for the static site"

  security_headers_config {
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    referrer_policy {
      referrer_policy = "strict-origin-when-cross-origin"
      override        = true
    }
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
  }
}

locals {
  origin_id   = "s3-${var.bucket_name}"
  asset_paths = ["/_next/static/*", "/static/*", "*.js", "*.css", "*.woff2", "*.png", "*.jpg", "*.svg", "*.ico"]
  aliases     = var.custom_domain == null ? [] : [var.custom_domain.domain_name]
  website_url = var.custom_domain == null ? "https://${aws_cloudfront_distribution.this.domain_name}" : "https://${var.custom_domain.domain_name}"
}

resource "aws_cloudfront_distribution" "this" {
  #checkov:skip=CKV_AWS_68:WAF costs ~$6/month minimum per web ACL; a static export has no server-side attack surface.
  #checkov:skip=CKV_AWS_86:Access logging to a log bucket is a per-environment choice, off in dev to save cost.
  #checkov:skip=CKV_AWS_310:S3 is the only origin; there is no second origin to fail over to.
  #checkov:skip=CKV_AWS_374:The site is public worldwide; no geo restriction.
  #checkov:skip=CKV2_AWS_47:No WAF (see CKV_AWS_68), so no Log4j managed rule either.
  #checkov:skip=CKV2_AWS_32:A response headers policy is attached to every cache behaviour (checkov misreads ordered behaviours).
  #checkov:skip=CKV2_AWS_42:The default certificate is used until custom_domain is set, by design for new sub-environments.
  #checkov:skip=CKV_AWS_174:TLSv1.2_2021 is set whenever a custom certificate is used; the default certificate fixes TLSv1.
  enabled             = true
  is_ipv6_enabled     = true
  comment             = var.bucket_name
  default_root_object = "index.html"
  price_class         = var.price_class
  aliases             = local.aliases
  http_version        = "http2and3"

  origin {
    origin_id                = local.origin_id
    domain_name              = aws_s3_bucket.this.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.this.id
  }

  default_cache_behavior {
    target_origin_id           = local.origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = aws_cloudfront_cache_policy.html.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this.id

    function_association {
      event_type   = "viewer-request"
      function_arn = aws_cloudfront_function.this.arn
    }
  }

  dynamic "ordered_cache_behavior" {
    for_each = local.asset_paths
    content {
      path_pattern               = ordered_cache_behavior.value
      target_origin_id           = local.origin_id
      viewer_protocol_policy     = "redirect-to-https"
      allowed_methods            = ["GET", "HEAD"]
      cached_methods             = ["GET", "HEAD"]
      compress                   = true
      cache_policy_id            = aws_cloudfront_cache_policy.assets.id
      response_headers_policy_id = aws_cloudfront_response_headers_policy.this.id
    }
  }

  # Static export: unknown paths fall back to the exported 404 page.
  custom_error_response {
    error_code            = 403
    response_code         = 404
    response_page_path    = "/404.html"
    error_caching_min_ttl = 60
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = var.custom_domain == null
    acm_certificate_arn            = var.custom_domain == null ? null : var.custom_domain.certificate_arn
    ssl_support_method             = var.custom_domain == null ? null : "sni-only"
    minimum_protocol_version       = var.custom_domain == null ? "TLSv1" : "TLSv1.2_2021"
  }

  tags = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "CloudFrontOnly"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.this.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.this.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.this.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
