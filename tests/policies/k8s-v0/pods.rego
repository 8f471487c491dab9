# Written in Rego v0, as many existing conftest policies are.
package main

deny[msg] {
	input.kind == "Deployment"
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("%s: containers must not run as root", [input.metadata.name])
}

deny[msg] {
	input.kind == "Deployment"
	c := input.spec.template.spec.containers[_]
	endswith(c.image, ":latest")
	msg := sprintf("%s: container %s uses a latest tag", [input.metadata.name, c.name])
}

deny[msg] {
	input.kind == "Deployment"
	c := input.spec.template.spec.containers[_]
	not contains(c.image, ":")
	msg := sprintf("%s: container %s has no tag", [input.metadata.name, c.name])
}

warn[msg] {
	input.kind == "Service"
	input.spec.type == "NodePort"
	msg := sprintf("%s: NodePort services are reachable on every node", [input.metadata.name])
}
