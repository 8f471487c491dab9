//! paved's standard kustomize base, for a Cookiecutter or Copier template
//! that renders no Kubernetes manifests of its own: a Deployment, a Service
//! and an HTTPS Ingress, shaped as the built-in templates' are, added to the
//! service's repository where Argo CD deploys from. Probes are TCP checks on
//! the port, since paved cannot know the service's health paths.

use serde::{Deserialize, Serialize};

use super::escape::yaml;
use super::{Rendered, RenderedFile, Template};

/// What the base is made for: the service and where it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    pub org: String,
    pub domain: String,
    pub port: u16,
}

/// Makes a foreign template's render a service's repository: the tool's own
/// answers file, and, for `service`, the base under the template's
/// manifests folder when the render has no kustomization there. Returns the
/// service when the base was added.
pub fn complete(
    template: &Template,
    rendered: &mut Rendered,
    service: Option<&Service>,
) -> Option<Service> {
    if let Some(record) = rendered.record.take() {
        rendered.files.retain(|f| f.path != record.path);
        rendered.files.push(record);
        rendered.files.sort_by(|a, b| a.path.cmp(&b.path));
    }
    let folder = &template.manifests;
    let kustomization = format!("{folder}/kustomization.yaml");
    let service = service?;
    if template.tool().is_none() || rendered.file(&kustomization).is_some() {
        return None;
    }
    for (name, contents) in files(service) {
        let path = format!("{folder}/{name}");
        rendered.files.retain(|f| f.path != path);
        rendered.files.push(RenderedFile {
            path,
            contents: contents.into_bytes(),
            executable: false,
        });
    }
    rendered.files.sort_by(|a, b| a.path.cmp(&b.path));
    Some(service.clone())
}

fn files(s: &Service) -> [(&'static str, String); 4] {
    let name = yaml(&s.name);
    let labels = format!(
        "app.kubernetes.io/name: {name}\n    app.kubernetes.io/component: server\n    app.kubernetes.io/managed-by: paved"
    );
    let image = format!("ghcr.io/{}/{}", s.org.to_lowercase(), s.name);
    let host = format!("{}.{}", s.name, s.domain);
    let port = s.port;
    [
        (
            "kustomization.yaml",
            format!(
                "# paved's standard base: the template renders no manifests of its own.\n\
                 apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - deployment.yaml\n  - service.yaml\n  - ingress.yaml\n\
                 # CI pushes {image}:<git sha>; Argo CD sets the tag and the replicas.\n\
                 images:\n  - name: {image}\n    newTag: latest\n"
            ),
        ),
        (
            "deployment.yaml",
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n    {labels}\n\
                 spec:\n  replicas: 2\n  revisionHistoryLimit: 5\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: {name}\n\
                 \x20 template:\n    metadata:\n      labels:\n        app.kubernetes.io/name: {name}\n        app.kubernetes.io/component: server\n        app.kubernetes.io/managed-by: paved\n\
                 \x20     annotations:\n        prometheus.io/scrape: \"true\"\n        prometheus.io/port: \"{port}\"\n        prometheus.io/path: /metrics\n\
                 \x20   spec:\n      automountServiceAccountToken: false\n      securityContext:\n        runAsNonRoot: true\n        runAsUser: 10001\n        runAsGroup: 10001\n        seccompProfile:\n          type: RuntimeDefault\n\
                 \x20     containers:\n        - name: app\n          image: {image}\n          ports:\n            - name: http\n              containerPort: {port}\n              protocol: TCP\n\
                 \x20         env:\n            - name: PORT\n              value: \"{port}\"\n\
                 \x20         readinessProbe:\n            tcpSocket:\n              port: http\n            periodSeconds: 5\n\
                 \x20         livenessProbe:\n            tcpSocket:\n              port: http\n            initialDelaySeconds: 5\n            periodSeconds: 10\n\
                 \x20         resources:\n            requests:\n              cpu: 100m\n              memory: 128Mi\n            limits:\n              cpu: 500m\n              memory: 256Mi\n\
                 \x20         securityContext:\n            allowPrivilegeEscalation: false\n            readOnlyRootFilesystem: true\n            runAsNonRoot: true\n            capabilities:\n              drop: [\"ALL\"]\n\
                 \x20         volumeMounts:\n            - name: tmp\n              mountPath: /tmp\n\
                 \x20     volumes:\n        - name: tmp\n          emptyDir:\n            sizeLimit: 64Mi\n"
            ),
        ),
        (
            "service.yaml",
            format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  labels:\n    {labels}\n\
                 spec:\n  type: ClusterIP\n  selector:\n    app.kubernetes.io/name: {name}\n  ports:\n    - name: http\n      port: 80\n      targetPort: http\n      protocol: TCP\n"
            ),
        ),
        (
            "ingress.yaml",
            format!(
                "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  labels:\n    {labels}\n\
                 \x20 annotations:\n    cert-manager.io/cluster-issuer: letsencrypt\n\
                 spec:\n  ingressClassName: nginx\n  tls:\n    - hosts:\n        - {host}\n      secretName: {}-tls\n\
                 \x20 rules:\n    - host: {host}\n      http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend:\n              service:\n                name: {name}\n                port:\n                  name: http\n",
                s.name
            ),
        ),
    ]
}
