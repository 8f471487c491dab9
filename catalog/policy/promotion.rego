# An environment under review (prod) only ever runs an image that runs now
# in the environment before it (staging): what is promoted was tried first.
package main

import rego.v1

deny contains msg if {
	input.kind == "change"
	input.review
	input.previous
	not same_image
	input.to.tag != input.environments[input.previous].tag
	msg := sprintf(
		"%s may run in %s only what runs in %s now: `%s` does not",
		[input.service, input.environment, input.previous, input.to.tag],
	)
}

# Scaling keeps the image it has.
same_image if input.from.tag == input.to.tag
