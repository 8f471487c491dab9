package main

import rego.v1

reserved := {"admin", "api", "www"}

deny contains sprintf("%s is a reserved name", [input.name]) if input.name in reserved

deny contains msg if {
	not regex.match(`^[a-z][a-z0-9-]*$`, input.name)
	msg := sprintf("%s is not a DNS label", [input.name])
}

deny contains msg if {
	parts := split(input.owner, "/")
	count(parts) != 2
	msg := sprintf("owner %s is not a team", [input.owner])
}

violation contains msg if {
	input.requester.permission in {"read", "none"}
	msg := sprintf("@%s may not request services", [input.requester.login])
}

warn contains "no port given: the template's default is used" if {
	not object.get(input.parameters, "port", false)
}

warn contains msg if {
	some key, value in input.parameters
	upper(value) == value
	msg := sprintf("parameter %s is all capitals", [key])
}
