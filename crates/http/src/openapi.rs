//! The OpenAPI 3.1 document, built from the code that serves the routes.
//!
//! Routes are registered through [`ApiRouter`], a thin wrapper over
//! `utoipa_axum`'s `OpenApiRouter`: `routes(routes!(handler))` adds the route
//! and its `#[utoipa::path]` documentation together. The wrapper also records
//! every path it routes, so [`undocumented_routes`] can list any route that
//! reached the router without documentation (added with plain [`ApiRouter::route`]);
//! a test asserts that list is empty.
//!
//! Every protected operation names its roles in its description and carries
//! `security(("bearer" = []))`.

use std::sync::Arc;

use axum::Router;
use axum::extract::Extension;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use utoipa::openapi::OpenApi as OpenApiDocument;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::error::{ApiError, FieldError, Problem};

/// The name of the security scheme protected operations refer to.
pub const BEARER_SCHEME: &str = "bearer";
/// Where the document is served.
pub const OPENAPI_PATH: &str = "/openapi.json";

struct BearerSecurity;

impl Modify for BearerSecurity {
    fn modify(&self, openapi: &mut OpenApiDocument) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some(
                "An API key (`cf_…`) or a user token signed by the mall (`u1.…`).",
            ))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER_SCHEME, SecurityScheme::Http(scheme));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Couponflow API",
        description = "Coupons from template to settlement. Errors are application/problem+json (RFC 9457) with a stable `code`."
    ),
    components(schemas(Problem, FieldError)),
    modifiers(&BearerSecurity),
    tags((name = "operations", description = "Health, readiness, metrics and this document"))
)]
struct BaseDocument;

/// The operation serving the document, added when a router is finished (not
/// before, or every nested router would bring its own copy).
#[derive(OpenApi)]
#[openapi(paths(openapi_json))]
struct DocumentOperation;

/// The document every router starts from: info, the bearer scheme and the
/// problem schema; no paths.
pub fn base_document() -> OpenApiDocument {
    let mut document = BaseDocument::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    document
}

/// Routes and their documentation, registered together.
pub struct ApiRouter<S = ()> {
    inner: OpenApiRouter<S>,
    route_paths: Vec<String>,
}

impl<S> Default for ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    fn default() -> Self {
        ApiRouter::new()
    }
}

impl<S> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    /// An empty router whose document has no paths yet.
    pub fn new() -> Self {
        ApiRouter {
            inner: OpenApiRouter::with_openapi(base_document()),
            route_paths: Vec::new(),
        }
    }

    /// Adds documented routes: `.routes(utoipa_axum::routes!(get_coupon, void_coupon))`.
    pub fn routes(mut self, routes: UtoipaMethodRouter<S>) -> Self {
        self.route_paths.extend(routes.1.paths.keys().cloned());
        self.inner = self.inner.routes(routes);
        self
    }

    /// Adds a route with no documentation. It will show in
    /// [`undocumented_routes`] unless the same path is documented elsewhere.
    pub fn route(mut self, path: &str, method_router: MethodRouter<S>) -> Self {
        self.route_paths.push(path.to_owned());
        self.inner = self.inner.route(path, method_router);
        self
    }

    /// Routes of `other` beside these.
    pub fn merge(mut self, other: ApiRouter<S>) -> Self {
        self.route_paths.extend(other.route_paths);
        self.inner = self.inner.merge(other.inner);
        self
    }

    /// A layer around the routes added so far (as `axum::Router::layer`).
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: tower::Layer<axum::routing::Route> + Clone + Send + Sync + 'static,
        L::Service: tower::Service<axum::extract::Request> + Clone + Send + Sync + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Response:
            axum::response::IntoResponse + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Error:
            Into<std::convert::Infallible> + 'static,
        <L::Service as tower::Service<axum::extract::Request>>::Future: Send + 'static,
    {
        self.inner = self.inner.layer(layer);
        self
    }

    /// Routes of `other` under `prefix` (e.g. `/v1`).
    pub fn nest(mut self, prefix: &str, other: ApiRouter<S>) -> Self {
        let prefix_trimmed = prefix.trim_end_matches('/');
        self.route_paths.extend(
            other
                .route_paths
                .iter()
                .map(|path| nested_path(prefix_trimmed, path)),
        );
        self.inner = self.inner.nest(prefix, other.inner);
        self
    }

    /// Every path routed so far.
    pub fn route_paths(&self) -> &[String] {
        &self.route_paths
    }

    /// The document so far.
    pub fn openapi(&self) -> &OpenApiDocument {
        self.inner.get_openapi()
    }

    /// The axum router, with `/openapi.json` serving the finished document.
    pub fn into_parts(self) -> ApiParts<S> {
        let (router, mut openapi) = self.inner.split_for_parts();
        let document_operation = DocumentOperation::openapi().paths.paths;
        openapi.paths.paths.extend(document_operation);
        let served = ServedDocument(Arc::new(
            openapi.to_json().map_err(|error| error.to_string()),
        ));
        let router = router.route(OPENAPI_PATH, get(openapi_json).layer(Extension(served)));
        let mut route_paths = self.route_paths;
        route_paths.push(OPENAPI_PATH.to_owned());
        ApiParts {
            router,
            openapi,
            route_paths,
        }
    }
}

fn nested_path(prefix: &str, path: &str) -> String {
    if path == "/" || path.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}{path}")
    }
}

/// A finished [`ApiRouter`].
pub struct ApiParts<S> {
    pub router: Router<S>,
    pub openapi: OpenApiDocument,
    pub route_paths: Vec<String>,
}

impl<S> ApiParts<S> {
    /// Routes that reached the router without documentation.
    pub fn undocumented_routes(&self) -> Vec<String> {
        undocumented_routes(&self.route_paths, &self.openapi)
    }
}

/// Paths in `route_paths` that `openapi` does not describe, sorted, each once.
pub fn undocumented_routes(route_paths: &[String], openapi: &OpenApiDocument) -> Vec<String> {
    let mut missing: Vec<String> = route_paths
        .iter()
        .filter(|path| !openapi.paths.paths.contains_key(path.as_str()))
        .cloned()
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

#[derive(Clone)]
struct ServedDocument(Arc<Result<String, String>>);

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object))
)]
async fn openapi_json(Extension(document): Extension<ServedDocument>) -> Response {
    match document.0.as_ref() {
        Ok(json) => {
            let mut response = json.clone().into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(reason) => {
            ApiError::internal(format!("the OpenAPI document did not serialise: {reason}"))
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa_axum::routes;

    #[utoipa::path(get, path = "/documented", responses((status = 200)))]
    async fn documented() -> &'static str {
        "ok"
    }

    #[utoipa::path(post, path = "/things", responses((status = 201)))]
    async fn create_thing() -> &'static str {
        "ok"
    }

    #[test]
    fn documented_routes_leave_nothing_undocumented() {
        let parts = ApiRouter::<()>::new()
            .routes(routes!(documented))
            .into_parts();
        assert_eq!(parts.undocumented_routes(), Vec::<String>::new());
        assert!(parts.openapi.paths.paths.contains_key("/openapi.json"));
    }

    #[test]
    fn a_route_missing_from_the_document_is_reported() {
        let parts = ApiRouter::<()>::new()
            .routes(routes!(documented))
            .route("/hidden", get(|| async { "secret" }))
            .into_parts();
        assert_eq!(parts.undocumented_routes(), vec!["/hidden".to_owned()]);
    }

    #[test]
    fn nested_routes_are_documented_and_recorded_under_the_prefix() {
        let v1 = ApiRouter::<()>::new()
            .routes(routes!(create_thing))
            .route("/raw", get(|| async { "raw" }));
        let parts = ApiRouter::new().nest("/v1", v1).into_parts();
        assert!(parts.openapi.paths.paths.contains_key("/v1/things"));
        assert!(parts.route_paths.contains(&"/v1/things".to_owned()));
        assert_eq!(parts.undocumented_routes(), vec!["/v1/raw".to_owned()]);
    }

    #[test]
    fn document_is_openapi_3_1_with_a_bearer_scheme() {
        let json = serde_json::to_value(base_document()).unwrap();
        assert!(json["openapi"].as_str().unwrap().starts_with("3.1"));
        assert_eq!(
            json["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        assert!(json["components"]["schemas"]["Problem"].is_object());
        assert_eq!(json["info"]["title"], "Couponflow API");
    }
}
