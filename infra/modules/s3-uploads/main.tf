# Private bucket for user uploads: never public, TLS only, versioned, encrypted, expiring old
# versions; the backend role gets object access under one prefix and nothing else.

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Uploads are re-creatable user content in dev; cross-region replication doubles storage cost and is a prod decision.
  #checkov:skip=CKV_AWS_18:Server access logs need a second bucket; CloudTrail data events are the audit path when required.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) encrypts every object without per-request KMS charges; a CMK is a per-environment upgrade.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to uploads yet; the backend records each upload itself.
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
    id     = "expire-overwritten-and-incomplete"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = var.lifecycle_days.noncurrent_versions
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  dynamic "rule" {
    for_each = var.lifecycle_days.current_objects == null ? [] : [var.lifecycle_days.current_objects]
    content {
      id     = "expire-uploads"
      status = "Enabled"
      filter {
        prefix = var.access.prefix
      }
      expiration {
        days = rule.value
      }
      abort_incomplete_multipart_upload {
        days_after_initiation = 1
      }
    }
  }
}

resource "aws_s3_bucket_cors_configuration" "this" {
  count = length(var.cors_origins) > 0 ? 1 : 0

  bucket = aws_s3_bucket.this.id
  # Browsers upload with presigned PUT URLs the backend issues.
  cors_rule {
    allowed_methods = ["PUT", "GET", "HEAD"]
    allowed_origins = var.cors_origins
    allowed_headers = ["content-type", "content-md5", "x-amz-*"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3600
  }
}

data "aws_iam_policy_document" "bucket" {
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
  policy = data.aws_iam_policy_document.bucket.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# Least privilege for the backend: objects under the prefix only, listing limited to the prefix.
data "aws_iam_policy_document" "access" {
  statement {
    sid       = "UploadsObjects"
    actions   = var.access.object_actions
    resources = ["${aws_s3_bucket.this.arn}/${var.access.prefix}*"]
  }

  statement {
    sid       = "UploadsListPrefix"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.this.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.access.prefix}*"]
    }
  }
}

# Keyed by stable names so the plan knows the instances before the roles exist.
resource "aws_iam_role_policy" "this" {
  for_each = var.access.roles

  name   = "${var.bucket_name}-access"
  role   = each.value
  policy = data.aws_iam_policy_document.access.json
}
