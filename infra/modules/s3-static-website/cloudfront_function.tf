# Deep links of the static export resolve to the exported pages (/about -> /about.html); the code
# lives in functions/deep-links.js so tests run exactly what CloudFront runs.
resource "aws_cloudfront_function" "this" {
  name    = substr("${var.bucket_name}-deep-links", 0, 64)
  runtime = "cloudfront-js-2.0"
  comment = "Map /path to /path.html and /dir/ to /dir/index.html"
  publish = true
  code    = file("${path.module}/functions/deep-links.js")
}
