//! A router that remembers its routes, so the OpenAPI document can be checked
//! against what is really served (and served only for what exists).

use axum::handler::Handler;
use axum::routing::{self, MethodRouter};
use axum::Router;

use crate::state::AppState;

/// Routes under `/v2`, with their methods and paths.
#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    table: Vec<(&'static str, &'static str)>,
}

impl Routes {
    pub fn new() -> Routes {
        Routes::default()
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Routes {
        self.add("GET", path, routing::get(h))
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Routes {
        self.add("POST", path, routing::post(h))
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Routes {
        self.add("PUT", path, routing::put(h))
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Routes {
        self.add("DELETE", path, routing::delete(h))
    }

    /// `cond` false leaves the routes out (sandbox-only routes in production).
    pub fn merge_if(mut self, cond: bool, other: Routes) -> Routes {
        if cond {
            self.router = self.router.merge(other.router);
            self.table.extend(other.table);
        }
        self
    }

    pub fn merge(self, other: Routes) -> Routes {
        self.merge_if(true, other)
    }

    fn add(
        mut self,
        method: &'static str,
        path: &'static str,
        m: MethodRouter<AppState>,
    ) -> Routes {
        self.router = self.router.route(path, m);
        self.table.push((method, path));
        self
    }

    /// `(method, path)` of every route, paths relative to `/v2`.
    pub fn table(&self) -> &[(&'static str, &'static str)] {
        &self.table
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
