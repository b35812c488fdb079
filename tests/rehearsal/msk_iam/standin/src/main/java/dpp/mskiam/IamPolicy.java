package dpp.mskiam;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/** One role's identity policy (IAM JSON: Statement[].Effect/Action/Resource), evaluated as IAM
 * does: an explicit Deny wins, else an Allow that matches both action and resource, else deny. */
final class IamPolicy {
    private static final Set<String> KEYS = Set.of("Sid", "Effect", "Action", "Resource");

    private record Statement(String sid, boolean allow, List<Pattern> actions,
            List<Pattern> resources) {
        boolean matches(String action, String resource) {
            return actions.stream().anyMatch(p -> p.matcher(action).matches())
                    && resources.stream().anyMatch(p -> p.matcher(resource).matches());
        }
    }

    /** The outcome, with the statement that decided it (for the broker log). */
    record Decision(boolean allowed, String reason) {
    }

    private final List<Statement> statements = new ArrayList<>();

    @SuppressWarnings("unchecked")
    IamPolicy(Map<String, Object> document) {
        for (Object raw : (List<Object>) document.get("Statement")) {
            Map<String, Object> statement = (Map<String, Object>) raw;
            // A key the stand-in does not evaluate (Condition, NotAction, NotResource...) must
            // not be ignored silently: that would grant more than IAM does.
            for (String key : statement.keySet()) {
                if (!KEYS.contains(key)) {
                    throw new IllegalArgumentException("policy key " + key + " is not supported");
                }
            }
            String effect = (String) statement.get("Effect");
            if (!"Allow".equals(effect) && !"Deny".equals(effect)) {
                throw new IllegalArgumentException("Effect must be Allow or Deny: " + effect);
            }
            statements.add(new Statement((String) statement.getOrDefault("Sid", ""),
                    "Allow".equals(effect),
                    patterns(statement.get("Action"), Pattern.CASE_INSENSITIVE),
                    patterns(statement.get("Resource"), 0)));
        }
    }

    private static List<Pattern> patterns(Object value, int flags) {
        List<Pattern> found = new ArrayList<>();
        List<?> items = value instanceof List<?> list ? list : List.of(value);
        for (Object item : items) {
            found.add(wildcard((String) item, flags));
        }
        return found;
    }

    /** IAM wildcards: `*` any run of characters, `?` any one character; the rest literal. */
    static Pattern wildcard(String glob, int flags) {
        StringBuilder regex = new StringBuilder();
        StringBuilder literal = new StringBuilder();
        for (char c : glob.toCharArray()) {
            if (c == '*' || c == '?') {
                if (literal.length() > 0) {
                    regex.append(Pattern.quote(literal.toString()));
                    literal.setLength(0);
                }
                regex.append(c == '*' ? ".*" : ".");
            } else {
                literal.append(c);
            }
        }
        if (literal.length() > 0) {
            regex.append(Pattern.quote(literal.toString()));
        }
        return Pattern.compile(regex.toString(), flags | Pattern.DOTALL);
    }

    Decision evaluate(String action, String resource) {
        Statement allowedBy = null;
        for (Statement statement : statements) {
            if (statement.matches(action, resource)) {
                if (!statement.allow()) {
                    return new Decision(false, "explicit Deny in statement " + statement.sid());
                }
                if (allowedBy == null) {
                    allowedBy = statement;
                }
            }
        }
        if (allowedBy == null) {
            return new Decision(false, "no statement allows it");
        }
        return new Decision(true, "allowed by statement " + allowedBy.sid());
    }
}
