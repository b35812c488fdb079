package dpp.mskiam;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.kafka.common.Endpoint;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.errors.InvalidRequestException;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.server.authorizer.AclCreateResult;
import org.apache.kafka.server.authorizer.AclDeleteResult;
import org.apache.kafka.server.authorizer.Action;
import org.apache.kafka.server.authorizer.AuthorizableRequestContext;
import org.apache.kafka.server.authorizer.AuthorizationResult;
import org.apache.kafka.server.authorizer.Authorizer;
import org.apache.kafka.server.authorizer.AuthorizerServerInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The stand-in for MSK's IAM access control: every request on the IAM listener is allowed
 * only when the principal's role policy allows kafka-cluster:Connect on the cluster and the
 * kafka-cluster:* action MSK maps the Kafka operation to, on the resource's MSK ARN.
 *
 * <p>Broker settings: {@code msk.iam.listener} (the IAM listener's name, default IAM),
 * {@code msk.iam.cluster.arn} and {@code msk.iam.policies.file} (JSON: roles by name, each an
 * IAM policy document). Requests on other listeners (the broker's own, the test's admin) are
 * allowed: they stand for AWS's side of the cluster, which no role policy governs. */
public final class IamPolicyAuthorizer implements Authorizer {
    private static final Logger LOG = LoggerFactory.getLogger(IamPolicyAuthorizer.class);

    private String iamListener = "IAM";
    private MskResources resources;
    private final Map<String, IamPolicy> policies = new HashMap<>();

    @Override
    @SuppressWarnings("unchecked")
    public void configure(Map<String, ?> configs) {
        Object listener = configs.get("msk.iam.listener");
        if (listener != null) {
            iamListener = listener.toString();
        }
        resources = new MskResources(required(configs, "msk.iam.cluster.arn"));
        Path file = Path.of(required(configs, "msk.iam.policies.file"));
        String json;
        try {
            json = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read msk.iam.policies.file " + file, e);
        }
        Map<String, Object> roles = (Map<String, Object>) ((Map<String, Object>) Json.parse(json))
                .get("roles");
        for (Map.Entry<String, Object> role : roles.entrySet()) {
            policies.put(role.getKey(), new IamPolicy((Map<String, Object>) role.getValue()));
        }
        LOG.info("MSK IAM stand-in: policies of {} roles for {}", policies.size(),
                resources.clusterArn());
    }

    private static String required(Map<String, ?> configs, String name) {
        Object value = configs.get(name);
        if (value == null) {
            throw new IllegalArgumentException(name + " is required");
        }
        return value.toString();
    }

    @Override
    public Map<Endpoint, ? extends CompletionStage<Void>> start(AuthorizerServerInfo serverInfo) {
        Map<Endpoint, CompletableFuture<Void>> ready = new HashMap<>();
        for (Endpoint endpoint : serverInfo.endpoints()) {
            ready.put(endpoint, CompletableFuture.completedFuture(null));
        }
        return ready;
    }

    private boolean judged(AuthorizableRequestContext context) {
        return iamListener.equals(context.listenerName());
    }

    @Override
    public List<AuthorizationResult> authorize(AuthorizableRequestContext context,
            List<Action> actions) {
        List<AuthorizationResult> results = new ArrayList<>(actions.size());
        for (Action action : actions) {
            results.add(judged(context) ? decide(context, action) : AuthorizationResult.ALLOWED);
        }
        return results;
    }

    private AuthorizationResult decide(AuthorizableRequestContext context, Action action) {
        String role = context.principal().getName();
        ResourcePattern resource = action.resourcePattern();
        AclOperation operation = action.operation();
        String iamAction = MskResources.action(operation, resource.resourceType());
        String arn = resources.arn(operation, resource.resourceType(), resource.name());
        IamPolicy policy = policies.get(role);
        String denial;
        if (policy == null) {
            denial = "role has no policy";
        } else if (iamAction == null) {
            denial = "no kafka-cluster action exists for it";
        } else {
            IamPolicy.Decision connect = policy.evaluate(MskResources.CONNECT,
                    resources.clusterArn());
            IamPolicy.Decision decision = policy.evaluate(iamAction, arn);
            if (connect.allowed() && decision.allowed()) {
                if (action.logIfAllowed()) {
                    LOG.debug("MSK IAM ALLOWED role={} action={} resource={}", role, iamAction,
                            arn);
                }
                return AuthorizationResult.ALLOWED;
            }
            if (!connect.allowed()) {
                iamAction = MskResources.CONNECT;
                arn = resources.clusterArn();
                denial = connect.reason();
            } else {
                denial = decision.reason();
            }
        }
        // Kafka asks some checks quietly (logIfDenied=false: a fallback follows, or the
        // answer only filters a listing); those go to INFO, so every denial names its action.
        String message = "MSK IAM DENIED role={} action={} resource={} (Kafka {} on {} {}): {}";
        Object[] args = {role, iamAction, arn, operation, resource.resourceType(),
            resource.name(), denial};
        if (action.logIfDenied()) {
            LOG.warn(message, args);
        } else {
            LOG.info(message, args);
        }
        return AuthorizationResult.DENIED;
    }

    /** Kafka asks this when a specific grant is missing, e.g. an idempotent producer without
     * IDEMPOTENT_WRITE may still start when it may WRITE some topic. MSK's table makes
     * WriteDataIdempotently the only grant for idempotent writes, so IAM principals get no
     * such fallback. */
    @Override
    public AuthorizationResult authorizeByResourceType(AuthorizableRequestContext context,
            AclOperation operation, ResourceType resourceType) {
        if (!judged(context)) {
            return AuthorizationResult.ALLOWED;
        }
        LOG.warn("MSK IAM DENIED role={} action={} (Kafka {} on any {}): MSK grants no action"
                + " by resource type", context.principal().getName(),
                MskResources.action(operation, resourceType), operation, resourceType);
        return AuthorizationResult.DENIED;
    }

    @Override
    public List<? extends CompletionStage<AclCreateResult>> createAcls(
            AuthorizableRequestContext context, List<AclBinding> bindings) {
        List<CompletableFuture<AclCreateResult>> results = new ArrayList<>();
        for (int i = 0; i < bindings.size(); i++) {
            results.add(CompletableFuture.completedFuture(new AclCreateResult(
                    new InvalidRequestException("ACLs do not apply: MSK IAM access control"))));
        }
        return results;
    }

    @Override
    public List<? extends CompletionStage<AclDeleteResult>> deleteAcls(
            AuthorizableRequestContext context, List<AclBindingFilter> filters) {
        List<CompletableFuture<AclDeleteResult>> results = new ArrayList<>();
        for (int i = 0; i < filters.size(); i++) {
            results.add(CompletableFuture.completedFuture(new AclDeleteResult(
                    new InvalidRequestException("ACLs do not apply: MSK IAM access control"))));
        }
        return results;
    }

    @Override
    public Iterable<AclBinding> acls(AclBindingFilter filter) {
        return List.of();
    }

    @Override
    public void close() {
    }
}
