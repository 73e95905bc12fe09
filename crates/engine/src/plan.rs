//! A workflow version prepared for execution: nodes by id, edges by output port, how many
//! inputs each node waits for, and which earlier outputs each node's templates read.
//!
//! Plans are immutable (versions are) and cached per `(workflow, version)`.

use std::collections::{BTreeSet, HashMap};

use weft_core::workflow::{Graph, Node, NodeSpec};

/// An edge leaving a node, as the scheduler follows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    /// The output port it leaves from.
    pub port: String,
    /// The node it enters.
    pub target: usize,
    /// The input port it enters.
    pub target_port: String,
}

/// A graph indexed for execution.
#[derive(Debug)]
pub struct Plan {
    /// The nodes, in graph order.
    pub nodes: Vec<Node>,
    index: HashMap<String, usize>,
    outgoing: Vec<Vec<Outgoing>>,
    /// Incoming edges per node (into `in`; a loop's `continue` edges are not inputs).
    indegree: Vec<usize>,
    /// Edges into each loop's `continue` input: the ends of its body.
    continue_degree: Vec<usize>,
    /// Nodes with an edge into each node.
    predecessors: Vec<Vec<usize>>,
    /// Node ids each node's templates read; `None` when a lookup is computed at run time.
    reads: Vec<Option<Vec<String>>>,
    /// For joins that continue before every branch arrived (`any`, `firstN`): the nodes whose
    /// only way forward is that join — the branches to cancel once it continues.
    feeders: HashMap<usize, Vec<String>>,
    entry: Option<usize>,
}

impl Plan {
    /// Indexes `graph`.
    pub fn new(graph: Graph) -> Self {
        let index: HashMap<String, usize> =
            graph.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str().to_owned(), i)).collect();
        let mut outgoing = vec![Vec::new(); graph.nodes.len()];
        let mut indegree = vec![0; graph.nodes.len()];
        let mut continue_degree = vec![0; graph.nodes.len()];
        let mut predecessors = vec![Vec::new(); graph.nodes.len()];
        for edge in &graph.edges {
            let (Some(&source), Some(&target)) =
                (index.get(edge.source.as_str()), index.get(edge.target.as_str()))
            else {
                continue;
            };
            outgoing[source].push(Outgoing {
                port: edge.source_port.clone(),
                target,
                target_port: edge.target_port.clone(),
            });
            if edge.target_port == "continue" {
                continue_degree[target] += 1;
            } else {
                indegree[target] += 1;
                if !predecessors[target].contains(&source) {
                    predecessors[target].push(source);
                }
            }
        }
        let reads = graph.nodes.iter().map(reads_of).collect();
        let entry = graph.nodes.iter().position(|n| matches!(n.spec, NodeSpec::Start(_)));
        let mut plan = Self {
            nodes: graph.nodes,
            index,
            outgoing,
            indegree,
            continue_degree,
            predecessors,
            reads,
            feeders: HashMap::new(),
            entry,
        };
        for join in 0..plan.nodes.len() {
            if let NodeSpec::Join(config) = &plan.nodes[join].spec
                && config.policy != weft_core::workflow::nodes::JoinPolicy::All
            {
                let feeders = plan.exclusive_feeders(join);
                plan.feeders.insert(join, feeders);
            }
        }
        plan
    }

    /// The position of the node with this id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// The start node.
    pub fn entry(&self) -> Option<usize> {
        self.entry
    }

    /// Edges leaving `node`.
    pub fn outgoing(&self, node: usize) -> &[Outgoing] {
        self.outgoing.get(node).map(Vec::as_slice).unwrap_or_default()
    }

    /// How many inputs `node` waits for.
    pub fn indegree(&self, node: usize) -> usize {
        self.indegree.get(node).copied().unwrap_or(0)
    }

    /// How many body ends feed a loop's `continue` input.
    pub fn continue_degree(&self, node: usize) -> usize {
        self.continue_degree.get(node).copied().unwrap_or(0)
    }

    /// For a join that continues early, the ids of the nodes to cancel when it does.
    pub fn feeders(&self, join: usize) -> &[String] {
        self.feeders.get(&join).map(Vec::as_slice).unwrap_or_default()
    }

    /// Nodes upstream of `join` whose every edge leads to `join` or to another such node.
    fn exclusive_feeders(&self, join: usize) -> Vec<String> {
        let mut inside = vec![false; self.nodes.len()];
        let mut changed = true;
        while changed {
            changed = false;
            for node in 0..self.nodes.len() {
                if node == join || inside[node] || self.outgoing(node).is_empty() {
                    continue;
                }
                if self.outgoing(node).iter().all(|e| e.target == join || inside[e.target]) {
                    inside[node] = true;
                    changed = true;
                }
            }
        }
        (0..self.nodes.len()).filter(|&n| inside[n]).map(|n| self.nodes[n].id.as_str().to_owned()).collect()
    }

    /// Nodes with an edge into `node`.
    pub fn predecessors(&self, node: usize) -> &[usize] {
        self.predecessors.get(node).map(Vec::as_slice).unwrap_or_default()
    }

    /// Ids of the nodes whose outputs `node` needs: what its templates read and its
    /// predecessors. `None` means all (a computed lookup such as `nodes[vars.name]`).
    pub fn needs(&self, node: usize) -> Option<Vec<String>> {
        let reads = self.reads.get(node)?.as_ref()?;
        let mut needs: BTreeSet<String> = reads.iter().cloned().collect();
        for &p in self.predecessors(node) {
            if let Some(pred) = self.nodes.get(p) {
                needs.insert(pred.id.as_str().to_owned());
            }
        }
        Some(needs.into_iter().collect())
    }
}

/// The node ids a node's templates read, or `None` when some lookup is computed.
fn reads_of(node: &Node) -> Option<Vec<String>> {
    let mut ids = BTreeSet::new();
    let mut computed = false;
    node.spec.visit_templates(|_, kind, text| {
        let found = weft_core::workflow::node_references(kind, text);
        computed |= found.computed;
        ids.extend(found.ids);
    });
    (!computed).then(|| ids.into_iter().collect())
}
