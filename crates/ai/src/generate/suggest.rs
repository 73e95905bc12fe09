//! Next-node suggestions: [`AiClient::suggest_next`] asks the model for one to five new nodes,
//! each with the edge that attaches it to the graph, and keeps those that hold up when added
//! (see [`super::suggest_check`]). Invalid suggestions are dropped; when none is left a
//! repair turn quotes why.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use weft_core::workflow::{Edge, Graph, GraphIssue, GraphLimits, Node, NodeId, output_ports, validate};

use super::suggest_check::SuggestionCheck;
use super::{WorkflowContext, into_error, outline, prompt};
use crate::attempt::{Attempt, total_cost_micro_usd};
use crate::budget::BudgetGuard;
use crate::catalogue::TaskClass;
use crate::client::AiClient;
use crate::decide::default_task;
use crate::error::AiError;
use crate::request::{ChatMessage, ChatOutcome, ChatRequest};
use crate::router::ModelChoice;
use crate::structured::{Checked, DEFAULT_MAX_REPAIRS};

/// Most suggestions asked for.
pub const MAX_SUGGESTIONS: usize = 5;
/// Completion tokens asked for suggestions when the request sets none.
const DEFAULT_SUGGEST_MAX_TOKENS: u32 = 2048;

/// A graph being edited, to continue.
#[derive(Clone, Debug)]
pub struct SuggestNextRequest {
    /// The graph so far (parsed, as the editor saves it; it need not validate).
    pub graph: Graph,
    /// The node to continue from; otherwise the model picks (usually where the graph ends).
    pub selected: Option<NodeId>,
    /// How many suggestions to ask for, 1 to [`MAX_SUGGESTIONS`] (clamped).
    pub max_suggestions: usize,
    /// The model; the cheapest `generate` model when neither a model nor a task is named.
    pub choice: ModelChoice,
    /// The project's workflows and credentials.
    pub context: WorkflowContext,
    /// Repair turns allowed when no suggestion is valid.
    pub max_repairs: u32,
    /// The limits nodes are parsed and validated with (the server's).
    pub limits: GraphLimits,
    /// Most completion tokens per turn (2048 when `None`).
    pub max_tokens: Option<u32>,
}

impl Default for SuggestNextRequest {
    fn default() -> Self {
        Self {
            graph: Graph::default(),
            selected: None,
            max_suggestions: 3,
            choice: ModelChoice::default(),
            context: WorkflowContext::default(),
            max_repairs: DEFAULT_MAX_REPAIRS,
            limits: GraphLimits::default(),
            max_tokens: None,
        }
    }
}

/// One proposed next step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSuggestion {
    /// The new node, valid for the catalogue, with an id the graph does not use.
    pub node: Node,
    /// From an existing node's output port into the new node's input port.
    pub edge: Edge,
    /// Why the model suggests it.
    pub reason: String,
}

/// The valid suggestions, and what it took to get them.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeSuggestions {
    /// At least one, at most the number asked for, best first.
    pub suggestions: Vec<NodeSuggestion>,
    /// Why each dropped suggestion of the last answer was invalid.
    pub dropped: Vec<GraphIssue>,
    /// Repair turns it took.
    pub n_repairs: u32,
    /// The last turn's outcome.
    pub last: ChatOutcome,
    /// Every attempt of every turn, for usage rows.
    pub attempts: Vec<Attempt>,
    /// Cost of every attempt of every turn, micro-USD.
    pub total_cost_micro_usd: u64,
}

impl AiClient {
    /// Proposes nodes to add after `request.graph` (after `request.selected` when given), each
    /// with its edge and a reason; see the module documentation for what makes one valid.
    ///
    /// Fails with [`AiError::InvalidRequest`] when the selected node is not in the graph or
    /// has no output port (or, without a selection, no node has one), and
    /// with [`AiError::InvalidWorkflow`] (why each suggestion was refused) when no turn gave a
    /// valid one.
    pub async fn suggest_next(
        &self,
        request: SuggestNextRequest,
        budget: &dyn BudgetGuard,
    ) -> Result<NodeSuggestions, AiError> {
        let selected = match &request.selected {
            Some(id) => Some(request.graph.node(id.as_str()).ok_or_else(|| AiError::InvalidRequest {
                reason: format!("node `{id}` is not in the graph"),
            })?),
            None => None,
        };
        let continues = |node: &Node| !output_ports(&node.spec).is_empty();
        match selected {
            Some(node) if !continues(node) => {
                return Err(AiError::InvalidRequest {
                    reason: format!("nothing can follow node `{}`: it has no output port", node.id),
                });
            }
            None if !request.graph.nodes.iter().any(continues) => {
                return Err(AiError::InvalidRequest {
                    reason: "the graph has no node to continue from; generate a workflow instead".to_owned(),
                });
            }
            _ => {}
        }
        let max_suggestions = request.max_suggestions.clamp(1, MAX_SUGGESTIONS);
        let context = request.context.bounded();
        let system = system_prompt(&request.limits, &context, max_suggestions);
        let user = outline::describe(&request.graph, selected);
        let call = ChatRequest {
            max_tokens: Some(request.max_tokens.unwrap_or(DEFAULT_SUGGEST_MAX_TOKENS)),
            choice: default_task(request.choice, TaskClass::Generate),
            json_schema: Some(schema(max_suggestions)),
            ..ChatRequest::new(vec![ChatMessage::system(system), ChatMessage::user(user)])
        };
        let mut check = SuggestionCheck {
            graph: &request.graph,
            selected: request.selected.as_ref(),
            max_suggestions,
            limits: request.limits,
            context: &context,
            baseline: validate(&request.graph, &request.limits).issues,
        };
        match self.complete_checked(call, request.max_repairs, budget, &mut check).await {
            Ok(Checked { value: (suggestions, dropped), n_repairs, last, attempts }) => {
                let total_cost_micro_usd = total_cost_micro_usd(&attempts);
                Ok(NodeSuggestions { suggestions, dropped, n_repairs, last, attempts, total_cost_micro_usd })
            }
            Err(failed) => Err(into_error(failed)),
        }
    }
}

fn system_prompt(limits: &GraphLimits, context: &WorkflowContext, max_suggestions: usize) -> String {
    format!(
        "You help build a Weft workflow in its editor: propose the next steps of the graph the user has so \
         far, using only the node types of the catalogue below.\n\n\
         Answer with one JSON object and nothing else (no prose, no code fences):\n\
         {{\"suggestions\": [{{\"node\": <node>, \"edge\": {{\"source\": <id of a node of the graph>, \
         \"sourcePort\": <its output port>, \"target\": <the new node's id>, \"targetPort\": <the new node's \
         input port>}}, \"reason\": \"<one short sentence>\"}}, …]}}\n\
         Give 1 to {max_suggestions} alternative suggestions, the most useful first. Each is one new node \
         with an id no node of the graph (nor another suggestion) has, attached by one edge from an existing \
         node; its templates may read only nodes that run before it.\n\n{}",
        prompt::reference(limits, context)
    )
}

fn schema(max_suggestions: usize) -> Value {
    json!({
        "type": "object",
        "properties": {
            "suggestions": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_suggestions,
                "items": {
                    "type": "object",
                    "properties": {
                        "node": prompt::node_schema(),
                        "edge": prompt::edge_schema(),
                        "reason": {"type": "string"}
                    },
                    "required": ["node", "edge", "reason"]
                }
            }
        },
        "required": ["suggestions"]
    })
}
