# Images are pinned: no `latest`, and a tag or digest always.
package main

import rego.v1

deny contains msg if {
	some c in containers
	endswith(c.image, ":latest")
	msg := sprintf("%s: container %s runs %s: pin a tag, not latest", [name, c.name, c.image])
}

deny contains msg if {
	some c in containers
	not tagged(c.image)
	msg := sprintf("%s: container %s runs %s without a tag", [name, c.name, c.image])
}

tagged(image) if contains(image, "@")

tagged(image) if {
	parts := split(image, "/")
	contains(parts[count(parts) - 1], ":")
}
