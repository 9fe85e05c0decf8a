"""The emitters (generator/INTERNALS.md, "Layout and data flow"): a profile's grants become
IoT policy documents with slots (`policies`, from `templates/iot-policy.json.j2`) and, on the
Cognito path, the guest role's IAM policy (`cognito`)."""
