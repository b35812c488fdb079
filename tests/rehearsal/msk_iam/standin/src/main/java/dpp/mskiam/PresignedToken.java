package dpp.mskiam;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/** The MSK IAM token: a base64url SigV4 presigned URL for kafka-cluster:Connect, parsed and
 * checked the way AWS checks a presigned GET (canonical request, HMAC-SHA256 key chain). */
final class PresignedToken {
    static final String ACTION = "kafka-cluster:Connect";
    static final String SERVICE = "kafka-cluster";
    static final String ALGORITHM = "AWS4-HMAC-SHA256";
    /** SigV4's own ceiling for X-Amz-Expires (7 days). */
    static final long MAX_EXPIRES_S = 604_800;
    private static final DateTimeFormatter AMZ_DATE =
            DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
    private static final String EMPTY_SHA256 = sha256Hex("");

    /** Thrown for any token the broker must refuse; the message says why (for the log). */
    static final class InvalidTokenException extends Exception {
        private static final long serialVersionUID = 1L;

        InvalidTokenException(String message) {
            super(message);
        }
    }

    final String host;
    final String accessKeyId;
    final String region;
    final Instant signedAt;
    final Duration expires;
    final String sessionToken;
    final String userAgent;
    private final Map<String, String> params;
    private final String credentialScope;
    private final String amzDate;
    private final String signature;

    private PresignedToken(String host, Map<String, String> params) throws InvalidTokenException {
        this.host = host;
        this.params = params;
        if (!ACTION.equals(params.get("Action"))) {
            throw new InvalidTokenException("Action is " + params.get("Action") + ", not " + ACTION);
        }
        if (!ALGORITHM.equals(params.get("X-Amz-Algorithm"))) {
            throw new InvalidTokenException("X-Amz-Algorithm is not " + ALGORITHM);
        }
        if (!"host".equals(params.get("X-Amz-SignedHeaders"))) {
            throw new InvalidTokenException("X-Amz-SignedHeaders must be exactly 'host'");
        }
        String credential = required("X-Amz-Credential");
        String[] parts = credential.split("/", -1);
        if (parts.length != 5 || !SERVICE.equals(parts[3]) || !"aws4_request".equals(parts[4])) {
            throw new InvalidTokenException(
                    "X-Amz-Credential is not <key>/<date>/<region>/kafka-cluster/aws4_request");
        }
        this.accessKeyId = parts[0];
        this.region = parts[2];
        this.credentialScope = parts[1] + "/" + parts[2] + "/" + parts[3] + "/" + parts[4];
        this.amzDate = required("X-Amz-Date");
        try {
            this.signedAt = Instant.from(AMZ_DATE.parse(amzDate));
        } catch (DateTimeParseException e) {
            throw new InvalidTokenException("X-Amz-Date is not yyyyMMddTHHmmssZ: " + amzDate);
        }
        if (!amzDate.startsWith(parts[1])) {
            throw new InvalidTokenException("credential date differs from X-Amz-Date");
        }
        long expiresS;
        try {
            expiresS = Long.parseLong(required("X-Amz-Expires"));
        } catch (NumberFormatException e) {
            throw new InvalidTokenException("X-Amz-Expires is not a number");
        }
        if (expiresS < 1 || expiresS > MAX_EXPIRES_S) {
            throw new InvalidTokenException("X-Amz-Expires out of range: " + expiresS);
        }
        this.expires = Duration.ofSeconds(expiresS);
        this.signature = required("X-Amz-Signature");
        this.sessionToken = params.get("X-Amz-Security-Token");
        this.userAgent = params.get("User-Agent");
        String expectedHost = "kafka." + region + ".amazonaws.com";
        if (!expectedHost.equals(host)) {
            throw new InvalidTokenException("host " + host + " is not " + expectedHost);
        }
    }

    private String required(String name) throws InvalidTokenException {
        String value = params.get(name);
        if (value == null || value.isEmpty()) {
            throw new InvalidTokenException("missing " + name);
        }
        return value;
    }

    /** Decodes the SASL token (unpadded base64url of the URL) and reads its query. */
    static PresignedToken parse(String token) throws InvalidTokenException {
        String url;
        try {
            url = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new InvalidTokenException("token is not base64url");
        }
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new InvalidTokenException("token is not a URL");
        }
        if (!"https".equals(uri.getScheme()) || uri.getPort() != -1
                || !"/".equals(uri.getRawPath()) || uri.getRawQuery() == null) {
            throw new InvalidTokenException("token is not https://<host>/?<query>");
        }
        Map<String, String> params = new LinkedHashMap<>();
        for (String pair : uri.getRawQuery().split("&", -1)) {
            int eq = pair.indexOf('=');
            String key = decode(eq < 0 ? pair : pair.substring(0, eq));
            String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
            if (params.put(key, value) != null) {
                throw new InvalidTokenException("repeated query parameter " + key);
            }
        }
        return new PresignedToken(uri.getHost(), params);
    }

    private static String decode(String raw) {
        return URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    /** Refuses a token signed too far in the future (clock skew) or past its expiry. */
    void checkTime(Instant now, Duration maxSkew) throws InvalidTokenException {
        if (signedAt.isAfter(now.plus(maxSkew))) {
            throw new InvalidTokenException("X-Amz-Date " + amzDate + " is in the future (skew)");
        }
        if (now.isAfter(expiry())) {
            throw new InvalidTokenException("token expired at " + expiry());
        }
    }

    Instant expiry() {
        return signedAt.plus(expires);
    }

    /** Recomputes the signature with `secretKey` and compares in constant time. */
    void verifySignature(String secretKey) throws InvalidTokenException {
        String expected = hmacHex(signingKey(secretKey), stringToSign());
        if (!MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII),
                signature.getBytes(StandardCharsets.US_ASCII))) {
            throw new InvalidTokenException("signature does not match (wrong secret key for "
                    + accessKeyId + ", or a token altered after signing)");
        }
    }

    String canonicalRequest() {
        // Every parameter but the signature itself and User-Agent, which the signer appends
        // after signing; keys and values RFC 3986-encoded, sorted by key then value.
        List<String> pairs = new ArrayList<>();
        for (Map.Entry<String, String> e : params.entrySet()) {
            if (!e.getKey().equals("X-Amz-Signature") && !e.getKey().equals("User-Agent")) {
                pairs.add(uriEncode(e.getKey()) + "=" + uriEncode(e.getValue()));
            }
        }
        pairs.sort(null);
        return "GET\n/\n" + String.join("&", pairs) + "\nhost:" + host + "\n\nhost\n"
                + EMPTY_SHA256;
    }

    private String stringToSign() {
        return ALGORITHM + "\n" + amzDate + "\n" + credentialScope + "\n"
                + sha256Hex(canonicalRequest());
    }

    private byte[] signingKey(String secretKey) {
        byte[] key = ("AWS4" + secretKey).getBytes(StandardCharsets.UTF_8);
        for (String part : credentialScope.split("/")) {
            key = hmac(key, part);
        }
        return key;
    }

    static String uriEncode(String value) {
        StringBuilder out = new StringBuilder();
        for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '_' || c == '.' || c == '~') {
                out.append(c);
            } else {
                out.append('%').append(String.format("%02X", b & 0xff));
            }
        }
        return out.toString();
    }

    private static byte[] hmac(byte[] key, String data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String hmacHex(byte[] key, String data) {
        return HexFormat.of().formatHex(hmac(key, data));
    }

    private static String sha256Hex(String data) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            return HexFormat.of().formatHex(digest.digest(data.getBytes(StandardCharsets.UTF_8)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
