//! Declaring procedures once and registering them.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use weft_core::Role;

use crate::AppState;
use crate::auth::{Caller, RequestInfo};
use crate::error::{ApiError, InternalError};
use crate::rpc::params::parse_params;

/// Who may call a procedure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without credentials.
    Public,
    /// An authenticated caller holding at least this role.
    Role(Role),
}

/// Whether a procedure only reads. Clients cache, deduplicate and retry queries (the
/// generated TanStack Query helpers make them `queryOptions`); everything else is a mutation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Reads only: calling it again changes nothing and spends nothing.
    Query,
    /// Changes something, or spends (an AI call), or hands out something single-use.
    Mutation,
}

impl Kind {
    /// `query` or `mutation`, as the OpenRPC document says.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Query => "query",
            Kind::Mutation => "mutation",
        }
    }
}

/// What a procedure handler receives besides its params.
#[derive(Clone)]
pub struct CallContext {
    /// Shared application state.
    pub state: AppState,
    /// Facts about the request (client address, credentials, request id).
    pub request: Arc<RequestInfo>,
    caller: Option<Caller>,
}

impl CallContext {
    /// The authenticated caller. Always present for procedures declared with
    /// [`Access::Role`]; public procedures get `Unauthenticated`.
    pub fn caller(&self) -> Result<&Caller, ApiError> {
        self.caller
            .as_ref()
            .ok_or(ApiError::Unauthenticated(crate::error::UnauthenticatedReason::MissingToken))
    }
}

/// One JSON-RPC procedure, declared once: its name, documentation, access rule, params
/// and result types. Registration, the OpenRPC document and the TypeScript client all
/// derive from this declaration.
pub trait Procedure: Send + Sync + 'static {
    /// `router.procedure`.
    const NAME: &'static str;
    /// What it does, for the OpenRPC document and the TypeScript client.
    const DOC: &'static str;
    /// Who may call it.
    const ACCESS: Access;
    /// Whether it only reads; procedures are mutations unless they say so.
    const KIND: Kind = Kind::Mutation;
    /// The named-params object.
    type Params: DeserializeOwned + ts_rs::TS + schemars::JsonSchema + Send + 'static;
    /// The result.
    type Output: Serialize + ts_rs::TS + schemars::JsonSchema + Send + 'static;

    /// Runs the procedure.
    fn call(
        ctx: CallContext,
        params: Self::Params,
    ) -> impl Future<Output = Result<Self::Output, ApiError>> + Send;
}

/// Type-level facts about a params or result type, captured at registration so that code
/// generation can work from the registry alone.
#[derive(Clone, Copy)]
pub struct TypeInfo {
    /// TypeScript name of the type.
    pub ts_name: fn() -> String,
    /// Adds the type's declaration and its dependencies to a TypeScript collector.
    pub collect_ts: fn(&mut crate::codegen::TsDecls),
    /// JSON Schema of the type.
    pub schema: fn(&mut schemars::SchemaGenerator) -> schemars::Schema,
}

impl TypeInfo {
    /// Captures `T`.
    pub fn of<T: ts_rs::TS + schemars::JsonSchema + 'static>() -> Self {
        Self {
            ts_name: || T::name(&crate::codegen::ts_config()),
            collect_ts: |decls| decls.add::<T>(),
            schema: |generator| generator.subschema_for::<T>(),
        }
    }
}

/// Everything known about a registered procedure except its handler.
#[derive(Clone, Copy)]
pub struct ProcedureInfo {
    /// `router.procedure`.
    pub name: &'static str,
    /// Documentation.
    pub doc: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Query or mutation.
    pub kind: Kind,
    /// Params type.
    pub params: TypeInfo,
    /// Result type.
    pub output: TypeInfo,
}

type Handler = Arc<
    dyn Fn(CallContext, Option<&str>) -> BoxFuture<'static, Result<serde_json::Value, ApiError>>
        + Send
        + Sync,
>;

struct Entry {
    info: ProcedureInfo,
    handler: Handler,
}

/// All procedures, by name. Built once at start-up.
#[derive(Default)]
pub struct Registry {
    entries: HashMap<&'static str, Entry>,
    order: Vec<&'static str>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `P`. Registering one name twice is a programming error caught by tests.
    pub fn add<P: Procedure>(mut self) -> Self {
        assert!(!self.entries.contains_key(P::NAME), "procedure {} registered twice", P::NAME);
        let handler: Handler = Arc::new(|ctx: CallContext, raw: Option<&str>| {
            let params = parse_params::<P::Params>(raw);
            async move {
                let params = params?;
                let output = P::call(ctx, params).await?;
                serde_json::to_value(output)
                    .map_err(|e| ApiError::Internal(InternalError::new("failed to serialise result", e)))
            }
            .boxed()
        });
        let info = ProcedureInfo {
            name: P::NAME,
            doc: P::DOC,
            access: P::ACCESS,
            kind: P::KIND,
            params: TypeInfo::of::<P::Params>(),
            output: TypeInfo::of::<P::Output>(),
        };
        self.order.push(P::NAME);
        self.entries.insert(P::NAME, Entry { info, handler });
        self
    }

    /// Registered procedures in registration order.
    pub fn procedures(&self) -> impl Iterator<Item = &ProcedureInfo> {
        self.order.iter().filter_map(|name| self.entries.get(name).map(|e| &e.info))
    }

    /// Whether a procedure of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// Authenticates as the procedure requires, parses the params and runs the handler.
    /// A panicking handler becomes an internal error instead of taking the connection down.
    pub(crate) async fn invoke(
        &self,
        state: &AppState,
        request: &Arc<RequestInfo>,
        name: &str,
        raw_params: Option<&str>,
    ) -> Option<Result<serde_json::Value, ApiError>> {
        let entry = self.entries.get(name)?;
        let caller = match entry.info.access {
            Access::Public => None,
            Access::Role(required) => match request.authenticate(state).await {
                Ok(caller) if caller.role.satisfies(required) => Some(caller),
                Ok(_) => return Some(Err(ApiError::Forbidden { required_role: required })),
                Err(err) => return Some(Err(err)),
            },
        };
        let ctx = CallContext { state: state.clone(), request: request.clone(), caller };
        let result = AssertUnwindSafe((entry.handler)(ctx, raw_params)).catch_unwind().await;
        Some(result.unwrap_or_else(|_| Err(ApiError::Internal(InternalError::message("procedure panicked")))))
    }
}
