// CloudFront Function (cloudfront-js-2.0), viewer request of the static site's default behaviour.
// The Next.js static export writes /about as about.html and /docs/ as docs/index.html; S3 has no
// index documents behind origin access control, so deep links are rewritten here:
//   /about -> /about.html, /docs/ -> /docs/index.html; paths whose last segment has a dot
//   (assets, /robots.txt, /page.html) are left alone.
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.endsWith('/')) {
    request.uri = uri + 'index.html';
    return request;
  }
  var last = uri.substring(uri.lastIndexOf('/') + 1);
  if (last.indexOf('.') === -1) {
    request.uri = uri + '.html';
  }
  return request;
}
