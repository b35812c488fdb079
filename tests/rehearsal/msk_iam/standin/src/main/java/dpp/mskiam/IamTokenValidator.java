package dpp.mskiam;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerExtensionsValidatorCallback;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerToken;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Broker-side validation of MSK IAM tokens (SASL/OAUTHBEARER): the stand-in for MSK's IAM
 * authentication. Configured through the listener's JAAS options:
 * {@code credentialsFile} (JSON: access key id to secret key and role), {@code region} and
 * optionally {@code maxClockSkewSeconds} (default 300). The principal is the role's name. */
public final class IamTokenValidator implements AuthenticateCallbackHandler {
    private static final Logger LOG = LoggerFactory.getLogger(IamTokenValidator.class);

    /** One static test credential: what IAM knows about an access key. */
    record AccessKey(String secretAccessKey, String role) {
    }

    private final Map<String, AccessKey> keys = new HashMap<>();
    private String region;
    private Duration maxSkew = Duration.ofSeconds(300);
    private final Clock clock = Clock.systemUTC();

    @Override
    public void configure(Map<String, ?> configs, String saslMechanism,
            List<AppConfigurationEntry> jaasConfigEntries) {
        if (!OAuthBearerLoginModule.OAUTHBEARER_MECHANISM.equals(saslMechanism)) {
            throw new IllegalArgumentException("MSK IAM tokens come over OAUTHBEARER, not "
                    + saslMechanism);
        }
        Map<String, ?> options = jaasConfigEntries.get(0).getOptions();
        region = option(options, "region");
        Object skew = options.get("maxClockSkewSeconds");
        if (skew != null) {
            maxSkew = Duration.ofSeconds(Long.parseLong(skew.toString()));
        }
        Path file = Path.of(option(options, "credentialsFile"));
        try {
            load(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read credentialsFile " + file, e);
        }
        LOG.info("MSK IAM stand-in: {} access keys, region {}", keys.size(), region);
    }

    private static String option(Map<String, ?> options, String name) {
        Object value = options.get(name);
        if (value == null) {
            throw new IllegalArgumentException("JAAS option " + name + " is required");
        }
        return value.toString();
    }

    @SuppressWarnings("unchecked")
    private void load(String json) {
        Map<String, Object> root = (Map<String, Object>) Json.parse(json);
        Map<String, Object> accessKeys = (Map<String, Object>) root.get("access_keys");
        for (Map.Entry<String, Object> e : accessKeys.entrySet()) {
            Map<String, Object> key = (Map<String, Object>) e.getValue();
            keys.put(e.getKey(), new AccessKey((String) key.get("secret_access_key"),
                    (String) key.get("role")));
        }
    }

    @Override
    public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
        for (Callback callback : callbacks) {
            if (callback instanceof OAuthBearerValidatorCallback validation) {
                validate(validation);
            } else if (callback instanceof OAuthBearerExtensionsValidatorCallback) {
                // MSK ignores SASL extensions; leaving them unvalidated drops them.
                continue;
            } else {
                throw new UnsupportedCallbackException(callback);
            }
        }
    }

    private void validate(OAuthBearerValidatorCallback callback) {
        try {
            Token token = authenticate(callback.tokenValue());
            callback.token(token);
            LOG.info("MSK IAM authenticated access key {} as role {} (token expires {})",
                    token.accessKeyId, token.principalName(), Instant.ofEpochMilli(token.lifetimeMs()));
        } catch (PresignedToken.InvalidTokenException e) {
            LOG.warn("MSK IAM authentication refused: {}", e.getMessage());
            callback.error("invalid_token", null, null);
        }
    }

    Token authenticate(String tokenValue) throws PresignedToken.InvalidTokenException {
        PresignedToken token = PresignedToken.parse(tokenValue);
        if (!region.equals(token.region)) {
            throw new PresignedToken.InvalidTokenException("token signed for region "
                    + token.region + ", the cluster is in " + region);
        }
        AccessKey key = keys.get(token.accessKeyId);
        if (key == null) {
            throw new PresignedToken.InvalidTokenException("unknown access key id "
                    + token.accessKeyId);
        }
        token.checkTime(clock.instant(), maxSkew);
        token.verifySignature(key.secretAccessKey());
        return new Token(tokenValue, key.role(), token.accessKeyId, token.signedAt,
                token.expiry());
    }

    @Override
    public void close() {
    }

    /** The validated token Kafka keeps for the session; its principal is the role name. */
    static final class Token implements OAuthBearerToken {
        private final String value;
        private final String role;
        final String accessKeyId;
        private final long startMs;
        private final long lifetimeMs;

        Token(String value, String role, String accessKeyId, Instant start, Instant expiry) {
            this.value = value;
            this.role = role;
            this.accessKeyId = accessKeyId;
            this.startMs = start.toEpochMilli();
            this.lifetimeMs = expiry.toEpochMilli();
        }

        @Override
        public String value() {
            return value;
        }

        @Override
        public Set<String> scope() {
            return Set.of();
        }

        @Override
        public long lifetimeMs() {
            return lifetimeMs;
        }

        @Override
        public String principalName() {
            return role;
        }

        @Override
        public Long startTimeMs() {
            return startMs;
        }
    }
}
