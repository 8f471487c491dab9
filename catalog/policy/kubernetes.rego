# What the other policies read of a Kubernetes manifest: its pod spec and
# containers. Declares no deny or warn of its own.
package main

import rego.v1

workloads := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

pod_spec := input.spec.template.spec if input.kind in workloads

pod_spec := input.spec.jobTemplate.spec.template.spec if input.kind == "CronJob"

pod_spec := input.spec if input.kind == "Pod"

# Every container, init containers included.
containers contains c if some c in pod_spec.containers

containers contains c if some c in pod_spec.initContainers

# The long-running containers: probes concern them only.
serving contains c if some c in pod_spec.containers

name := sprintf("%s %s", [input.kind, input.metadata.name])
