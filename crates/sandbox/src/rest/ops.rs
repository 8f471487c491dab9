//! GitHub's operation names for the routes the sandbox serves: the request
//! log and fault injection speak in these (`issues/create-comment`).

use crate::faults::path_matches;

/// (method, route, operation). More specific routes come first.
#[rustfmt::skip]
const OPERATIONS: &[(&str, &str, &str)] = &[
    ("GET", "/app", "apps/get-authenticated"),
    ("GET", "/app/installations", "apps/list-installations"),
    ("GET", "/app/installations/{id}", "apps/get-installation"),
    ("POST", "/app/installations/{id}/access_tokens", "apps/create-installation-access-token"),
    ("POST", "/app-manifests/{code}/conversions", "apps/create-from-manifest"),
    ("POST", "/settings/apps/new", "web/new-app-from-manifest"),
    ("POST", "/organizations/{org}/settings/apps/new", "web/new-app-from-manifest"),
    ("GET", "/installation/repositories", "apps/list-repos-accessible-to-installation"),
    ("GET", "/orgs/{org}/installation", "apps/get-org-installation"),
    ("GET", "/orgs/{org}/memberships/{u}", "orgs/get-membership-for-user"),
    ("GET", "/orgs/{org}/teams/{slug}/memberships/{u}", "teams/get-membership-for-user-in-org"),
    ("GET", "/orgs/{org}/repos", "repos/list-for-org"),
    ("POST", "/orgs/{org}/repos", "repos/create-in-org"),
    ("POST", "/user/repos", "repos/create-for-authenticated-user"),
    ("GET", "/user", "users/get-authenticated"),
    ("GET", "/rate_limit", "rate-limit/get"),
    ("POST", "/graphql", "graphql"),
    ("GET", "/repos/{o}/{r}", "repos/get"),
    ("PATCH", "/repos/{o}/{r}", "repos/update"),
    ("GET", "/repos/{o}/{r}/installation", "apps/get-repo-installation"),
    ("GET", "/repos/{o}/{r}/topics", "repos/get-all-topics"),
    ("PUT", "/repos/{o}/{r}/topics", "repos/replace-all-topics"),
    ("GET", "/repos/{o}/{r}/contents/**", "repos/get-content"),
    ("PUT", "/repos/{o}/{r}/contents/**", "repos/create-or-update-file-contents"),
    ("POST", "/repos/{o}/{r}/generate", "repos/create-using-template"),
    ("GET", "/repos/{o}/{r}/collaborators/{u}/permission", "repos/get-collaborator-permission-level"),
    ("GET", "/repos/{o}/{r}/issues/comments/{id}/reactions", "reactions/list-for-issue-comment"),
    ("POST", "/repos/{o}/{r}/issues/comments/{id}/reactions", "reactions/create-for-issue-comment"),
    ("GET", "/repos/{o}/{r}/issues/comments/{id}", "issues/get-comment"),
    ("PATCH", "/repos/{o}/{r}/issues/comments/{id}", "issues/update-comment"),
    ("POST", "/repos/{o}/{r}/issues/comments/{id}", "issues/update-comment"),
    ("DELETE", "/repos/{o}/{r}/issues/comments/{id}", "issues/delete-comment"),
    ("GET", "/repos/{o}/{r}/labels", "issues/list-labels-for-repo"),
    ("POST", "/repos/{o}/{r}/labels", "issues/create-label"),
    ("GET", "/repos/{o}/{r}/issues", "issues/list-for-repo"),
    ("POST", "/repos/{o}/{r}/issues", "issues/create"),
    ("GET", "/repos/{o}/{r}/issues/{n}", "issues/get"),
    ("PATCH", "/repos/{o}/{r}/issues/{n}", "issues/update"),
    ("GET", "/repos/{o}/{r}/issues/{n}/comments", "issues/list-comments"),
    ("POST", "/repos/{o}/{r}/issues/{n}/comments", "issues/create-comment"),
    ("GET", "/repos/{o}/{r}/issues/{n}/labels", "issues/list-labels-on-issue"),
    ("POST", "/repos/{o}/{r}/issues/{n}/labels", "issues/add-labels"),
    ("PUT", "/repos/{o}/{r}/issues/{n}/labels", "issues/set-labels"),
    ("DELETE", "/repos/{o}/{r}/issues/{n}/labels/{name}", "issues/remove-label"),
    ("POST", "/repos/{o}/{r}/forks", "repos/create-fork"),
    ("GET", "/repos/{o}/{r}/pulls", "pulls/list"),
    ("POST", "/repos/{o}/{r}/pulls", "pulls/create"),
    ("GET", "/repos/{o}/{r}/pulls/{n}", "pulls/get"),
    ("PATCH", "/repos/{o}/{r}/pulls/{n}", "pulls/update"),
    ("GET", "/repos/{o}/{r}/pulls/{n}/files", "pulls/list-files"),
    ("GET", "/repos/{o}/{r}/pulls/{n}/merge", "pulls/check-if-merged"),
    ("PUT", "/repos/{o}/{r}/pulls/{n}/merge", "pulls/merge"),
    ("POST", "/repos/{o}/{r}/check-runs", "checks/create"),
    ("GET", "/repos/{o}/{r}/check-runs/{id}", "checks/get"),
    ("PATCH", "/repos/{o}/{r}/check-runs/{id}", "checks/update"),
    ("GET", "/repos/{o}/{r}/actions/runs", "actions/list-workflow-runs-for-repo"),
    ("GET", "/repos/{o}/{r}/deployments", "repos/list-deployments"),
    ("POST", "/repos/{o}/{r}/deployments", "repos/create-deployment"),
    ("GET", "/repos/{o}/{r}/deployments/{id}", "repos/get-deployment"),
    ("GET", "/repos/{o}/{r}/deployments/{id}/statuses", "repos/list-deployment-statuses"),
    ("POST", "/repos/{o}/{r}/deployments/{id}/statuses", "repos/create-deployment-status"),
    ("GET", "/repos/{o}/{r}/environments", "repos/get-all-environments"),
    ("GET", "/{o}/{r}/info/refs", "git/info-refs"),
    ("POST", "/{o}/{r}/git-upload-pack", "git/upload-pack"),
    ("POST", "/{o}/{r}/git-receive-pack", "git/receive-pack"),
];

/// The operation a request is for, if the sandbox knows it.
pub fn operation(method: &str, path: &str) -> Option<&'static str> {
    OPERATIONS
        .iter()
        .find(|(m, route, _)| *m == method && path_matches(route, path))
        .map(|(_, _, op)| *op)
}

#[cfg(test)]
mod tests {
    use super::operation;

    #[test]
    fn specific_routes_win() {
        assert_eq!(
            operation("PATCH", "/repos/a/b/issues/comments/9"),
            Some("issues/update-comment")
        );
        assert_eq!(
            operation("PATCH", "/repos/a/b/issues/9"),
            Some("issues/update")
        );
        assert_eq!(
            operation("GET", "/repos/a/b/contents/dir/file.yaml"),
            Some("repos/get-content")
        );
        assert_eq!(
            operation("POST", "/acme/x.git/git-receive-pack"),
            Some("git/receive-pack")
        );
        assert_eq!(operation("GET", "/nowhere/at/all/x/y/z"), None);
    }
}
