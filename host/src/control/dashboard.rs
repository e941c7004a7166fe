//! The dashboard: one page (`GET /`) with its scripts and styles (`GET /ui/...`), built
//! into the binary. The page reads and acts on the job through the same public API as
//! the CLI, so it has no routes of its own beyond its files.
//!
//! The files are served without the bearer token: they hold no data of the job, and the
//! page must load to ask for the token (every API call it makes then carries it). Their
//! content security policy lets them load nothing but themselves and call nothing but
//! this endpoint.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// What the page may load and call: its own files and this endpoint, nothing else.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The files: route, content type, content.
const FILES: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("dashboard/index.html"),
    ),
    (
        "/ui/style.css",
        "text/css; charset=utf-8",
        include_str!("dashboard/style.css"),
    ),
    (
        "/ui/app.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/app.js"),
    ),
    (
        "/ui/api.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/api.js"),
    ),
    (
        "/ui/dom.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/dom.js"),
    ),
    (
        "/ui/graph.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/graph.js"),
    ),
    (
        "/ui/chart.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/chart.js"),
    ),
    (
        "/ui/tables.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/tables.js"),
    ),
    (
        "/ui/actions.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/actions.js"),
    ),
];

/// The routes of the dashboard's files.
pub fn router() -> Router {
    FILES
        .iter()
        .fold(Router::new(), |router, &(path, content_type, body)| {
            router.route(
                path,
                get(move || async move {
                    (
                        [
                            (header::CONTENT_TYPE, content_type),
                            (header::CACHE_CONTROL, "no-cache"),
                            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                            (header::CONTENT_SECURITY_POLICY, POLICY),
                        ],
                        body,
                    )
                        .into_response()
                }),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The size of the dashboard's files, in bytes.
    fn size() -> usize {
        FILES.iter().map(|(_, _, body)| body.len()).sum()
    }

    #[test]
    fn the_files_are_small_and_load_nothing_from_elsewhere() {
        assert!(
            size() < 300_000,
            "the dashboard's files take {} bytes",
            size()
        );
        for (path, _, body) in FILES {
            // The SVG namespace is a name, not an address the page loads.
            let body = body.replace("http://www.w3.org/2000/svg", "");
            for outside in ["http://", "https://", "//cdn", "@import"] {
                assert!(
                    !body.contains(outside),
                    "{path} refers to something outside the endpoint: {outside}"
                );
            }
        }
    }

    #[test]
    fn every_module_the_scripts_import_is_served() {
        for (path, _, body) in FILES {
            for line in body.lines() {
                let Some(from) = line.split(" from \"").nth(1) else {
                    continue;
                };
                let module = from.split('"').next().unwrap_or_default();
                let served = module.strip_prefix("./").map(|m| format!("/ui/{m}"));
                assert!(
                    served
                        .as_deref()
                        .is_some_and(|s| FILES.iter().any(|(p, _, _)| *p == s)),
                    "{path} imports {module}, which is not served"
                );
            }
        }
    }
}
