package dpp.mskiam;

import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.resource.ResourceType;

/** MSK's documented mapping of a Kafka (operation, resource) to a kafka-cluster:* action, and
 * the ARN of the resource as IAM policies name it, for one cluster
 * (arn:aws:kafka:region:account:cluster/name/uuid). */
final class MskResources {
    static final String CONNECT = "kafka-cluster:Connect";

    private final String clusterArn;
    private final String clusterPath;
    private final String arnHead;

    MskResources(String clusterArn) {
        int marker = clusterArn.indexOf(":cluster/");
        if (!clusterArn.startsWith("arn:") || marker < 0) {
            throw new IllegalArgumentException("not an MSK cluster ARN: " + clusterArn);
        }
        this.clusterArn = clusterArn;
        this.arnHead = clusterArn.substring(0, marker + 1);
        this.clusterPath = clusterArn.substring(marker + ":cluster/".length());
    }

    String clusterArn() {
        return clusterArn;
    }

    /** The action MSK checks for `operation` on a resource of `type`, or null when IAM access
     * control grants no action for it (such requests are denied). */
    static String action(AclOperation operation, ResourceType type) {
        switch (type) {
            case CLUSTER:
                switch (operation) {
                    case DESCRIBE: return "kafka-cluster:DescribeCluster";
                    case ALTER: return "kafka-cluster:AlterCluster";
                    case DESCRIBE_CONFIGS: return "kafka-cluster:DescribeClusterDynamicConfiguration";
                    case ALTER_CONFIGS: return "kafka-cluster:AlterClusterDynamicConfiguration";
                    case IDEMPOTENT_WRITE: return "kafka-cluster:WriteDataIdempotently";
                    // CREATE CLUSTER/TOPIC are both CreateTopic (resource: topic).
                    case CREATE: return "kafka-cluster:CreateTopic";
                    default: return null;
                }
            case TOPIC:
                switch (operation) {
                    case CREATE: return "kafka-cluster:CreateTopic";
                    case DESCRIBE: return "kafka-cluster:DescribeTopic";
                    case ALTER: return "kafka-cluster:AlterTopic";
                    case DELETE: return "kafka-cluster:DeleteTopic";
                    case DESCRIBE_CONFIGS: return "kafka-cluster:DescribeTopicDynamicConfiguration";
                    case ALTER_CONFIGS: return "kafka-cluster:AlterTopicDynamicConfiguration";
                    case READ: return "kafka-cluster:ReadData";
                    case WRITE: return "kafka-cluster:WriteData";
                    default: return null;
                }
            case GROUP:
                switch (operation) {
                    case DESCRIBE: return "kafka-cluster:DescribeGroup";
                    case READ: return "kafka-cluster:AlterGroup";
                    case DELETE: return "kafka-cluster:DeleteGroup";
                    default: return null;
                }
            case TRANSACTIONAL_ID:
                switch (operation) {
                    case DESCRIBE: return "kafka-cluster:DescribeTransactionalId";
                    case WRITE: return "kafka-cluster:AlterTransactionalId";
                    default: return null;
                }
            default:
                return null;
        }
    }

    /** The ARN a policy's Resource must match for `operation` on (`type`, `name`). */
    String arn(AclOperation operation, ResourceType type, String name) {
        switch (type) {
            case CLUSTER:
                // Creating "any topic" (CREATE on the cluster) needs CreateTopic on topic/*.
                return operation == AclOperation.CREATE ? child("topic", "*") : clusterArn;
            case TOPIC:
                return child("topic", name);
            case GROUP:
                return child("group", name);
            case TRANSACTIONAL_ID:
                return child("transactional-id", name);
            default:
                return arnHead + type.name().toLowerCase() + "/" + clusterPath + "/" + name;
        }
    }

    private String child(String kind, String name) {
        return arnHead + kind + "/" + clusterPath + "/" + name;
    }
}
