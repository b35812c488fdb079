# TFLint configuration for every module and environment (run with --recursive from infra/).
# The AWS ruleset plugin is enabled only where its binary was built into TFLINT_PLUGIN_DIR
# (see docs/infra.md: the Go module proxy here refuses github.com/terraform-linters/tflint-ruleset-aws).
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
