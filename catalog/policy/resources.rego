# Every container says what it needs and what it may use.
package main

import rego.v1

deny contains msg if {
	some c in containers
	some kind in ["requests", "limits"]
	some resource in ["cpu", "memory"]
	not c.resources[kind][resource]
	msg := sprintf("%s: container %s has no %s.%s", [name, c.name, kind, resource])
}
