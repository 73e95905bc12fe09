//! Structural analysis over the resolved edges: reachability from the start, cycles (only a
//! loop's `continue` input may close one), and for every node the set of nodes that run
//! before it on every path from the start (its dominators), kept as bitsets filled in one
//! topological pass. Loop-back edges are left out of the order, so a loop body's nodes are
//! dominated by their loop and nothing after the loop is dominated by the body.

use super::Issues;
use super::structure::{GraphIndex, ResolvedEdge};
use crate::workflow::graph::Graph;
use crate::workflow::nodes::NodeSpec;
use crate::workflow::ports::BODY_PORT;

/// Adjacency in compressed rows: the items of row `i` are `items[offsets[i]..offsets[i + 1]]`.
pub(crate) struct Rows {
    offsets: Vec<usize>,
    items: Vec<usize>,
}

impl Rows {
    fn build(n_rows: usize, pairs: impl Iterator<Item = (usize, usize)> + Clone) -> Self {
        let mut offsets = vec![0; n_rows + 1];
        for (row, _) in pairs.clone() {
            offsets[row + 1] += 1;
        }
        for idx in 0..n_rows {
            offsets[idx + 1] += offsets[idx];
        }
        let mut fill = offsets.clone();
        let mut items = vec![0; offsets[n_rows]];
        for (row, item) in pairs {
            items[fill[row]] = item;
            fill[row] += 1;
        }
        Self { offsets, items }
    }

    pub(crate) fn row(&self, row: usize) -> &[usize] {
        &self.items[self.offsets[row]..self.offsets[row + 1]]
    }
}

/// What validation needs to know about the graph's structure.
pub(crate) struct Analysis {
    words: usize,
    /// Row `i` (of `words` words) holds the dominators of node `i`, itself included.
    dominators: Vec<u64>,
    /// Whether row `i` was computed: node `i` is reachable without passing through a cycle.
    known: Vec<bool>,
    /// Whether node `i` runs inside some loop's body (`item` and `index` are defined).
    pub(crate) in_loop_body: Vec<bool>,
    /// Forward (non-loop-back) resolved-edge indices leaving each node.
    forward_out: Rows,
}

impl Analysis {
    pub(crate) fn run(graph: &Graph, index: &GraphIndex<'_>, issues: &mut Issues) -> Self {
        let n_nodes = graph.nodes.len();
        let edges = &index.edges;
        let forward = || edges.iter().enumerate().filter(|(_, e)| !e.loop_back);
        let forward_out = Rows::build(n_nodes, forward().map(|(idx, e)| (e.source, idx)));
        let forward_in = Rows::build(n_nodes, forward().map(|(idx, e)| (e.target, idx)));
        let all_out = Rows::build(n_nodes, edges.iter().map(|e| (e.source, e.target)));

        report_unreachable(graph, index, &all_out, issues);
        let order = topological_order(n_nodes, edges, &forward_out, &forward_in);
        if order.len() < n_nodes {
            report_cycles(graph, edges, &order, &forward_out, issues);
        }

        let words = n_nodes.div_ceil(64);
        let mut analysis = Self {
            words,
            dominators: vec![0; words * n_nodes],
            known: vec![false; n_nodes],
            in_loop_body: vec![false; n_nodes],
            forward_out,
        };
        analysis.fill(graph, edges, &order, &forward_in);
        analysis.check_loop_backs(graph, edges, issues);
        analysis
    }

    fn fill(&mut self, graph: &Graph, edges: &[ResolvedEdge<'_>], order: &[usize], forward_in: &Rows) {
        let words = self.words;
        let mut scratch = vec![0u64; words];
        for &node in order {
            let mut reached = false;
            scratch.fill(u64::MAX);
            for &edge_idx in forward_in.row(node) {
                let edge = &edges[edge_idx];
                if edge.source == node || !self.known[edge.source] {
                    continue;
                }
                reached = true;
                let row = &self.dominators[edge.source * words..(edge.source + 1) * words];
                scratch.iter_mut().zip(row).for_each(|(acc, word)| *acc &= word);
                let opens_body = matches!(graph.nodes[edge.source].spec, NodeSpec::Loop(_))
                    && edge.source_port == BODY_PORT;
                if opens_body || self.in_loop_body[edge.source] {
                    self.in_loop_body[node] = true;
                }
            }
            if matches!(graph.nodes[node].spec, NodeSpec::Start(_)) {
                scratch.fill(0);
                reached = true;
            }
            if !reached {
                continue;
            }
            scratch[node / 64] |= 1 << (node % 64);
            self.dominators[node * words..(node + 1) * words].copy_from_slice(&scratch);
            self.known[node] = true;
        }
    }

    /// Whether `earlier` runs before `node` on every path from the start; `None` when that
    /// is unknown because `node` is unreachable or behind a cycle.
    pub(crate) fn precedes(&self, earlier: usize, node: usize) -> Option<bool> {
        if !self.known[node] {
            return None;
        }
        let word = self.dominators[node * self.words + earlier / 64];
        Some(earlier != node && word & (1 << (earlier % 64)) != 0)
    }

    /// The nodes reachable from a loop's `body` port without passing the loop-back edge.
    pub(crate) fn loop_body(&self, edges: &[ResolvedEdge<'_>], loop_idx: usize, n_nodes: usize) -> Vec<bool> {
        let mut member = vec![false; n_nodes];
        let mut stack: Vec<usize> = self
            .forward_out
            .row(loop_idx)
            .iter()
            .map(|&edge_idx| &edges[edge_idx])
            .filter(|edge| edge.source_port == BODY_PORT)
            .map(|edge| edge.target)
            .collect();
        while let Some(node) = stack.pop() {
            if node == loop_idx || std::mem::replace(&mut member[node], true) {
                continue;
            }
            stack.extend(self.forward_out.row(node).iter().map(|&edge_idx| edges[edge_idx].target));
        }
        member
    }

    /// The edge into a loop's `continue` must come from inside that loop's body.
    fn check_loop_backs(&self, graph: &Graph, edges: &[ResolvedEdge<'_>], issues: &mut Issues) {
        for edge in edges.iter().filter(|edge| edge.loop_back) {
            let inside = self
                .precedes(edge.target, edge.source)
                .map(|dominated| dominated && self.in_loop_body[edge.source]);
            if inside == Some(false) {
                let loop_id = &graph.nodes[edge.target].id;
                let message =
                    format!("the edge into `continue` of `{loop_id}` must come from a node inside its body");
                issues.push("invalidEdge", format!("edges[{}]", edge.edge_idx), Some(loop_id), message);
            }
        }
    }
}

fn report_unreachable(graph: &Graph, index: &GraphIndex<'_>, all_out: &Rows, issues: &mut Issues) {
    if index.starts.is_empty() {
        return;
    }
    let mut reached = vec![false; graph.nodes.len()];
    let mut stack = index.starts.clone();
    while let Some(node) = stack.pop() {
        if !std::mem::replace(&mut reached[node], true) {
            stack.extend(all_out.row(node).iter().filter(|&&next| !reached[next]));
        }
    }
    for (idx, node) in graph.nodes.iter().enumerate().filter(|(idx, _)| !reached[*idx]) {
        let message = format!("`{}` cannot be reached from the start node", node.id);
        issues.push("unreachable", format!("nodes[{idx}]"), Some(&node.id), message);
    }
}

/// Kahn's algorithm over the forward edges; nodes on or behind a cycle are left out.
fn topological_order(
    n_nodes: usize,
    edges: &[ResolvedEdge<'_>],
    forward_out: &Rows,
    forward_in: &Rows,
) -> Vec<usize> {
    let mut pending: Vec<usize> = (0..n_nodes).map(|node| forward_in.row(node).len()).collect();
    let mut order: Vec<usize> = (0..n_nodes).filter(|&node| pending[node] == 0).collect();
    let mut next = 0;
    while let Some(&node) = order.get(next) {
        next += 1;
        for &edge_idx in forward_out.row(node) {
            let target = edges[edge_idx].target;
            pending[target] -= 1;
            if pending[target] == 0 {
                order.push(target);
            }
        }
    }
    order
}

/// Tarjan's strongly connected components, iteratively, over the unordered nodes.
struct Tarjan {
    number: Vec<usize>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    calls: Vec<(usize, usize)>,
    counter: usize,
}

impl Tarjan {
    fn enter(&mut self, node: usize) {
        self.number[node] = self.counter;
        self.low[node] = self.counter;
        self.counter += 1;
        self.stack.push(node);
        self.on_stack[node] = true;
        self.calls.push((node, 0));
    }
}

/// Names every cycle among the nodes Kahn's algorithm could not order.
fn report_cycles(
    graph: &Graph,
    edges: &[ResolvedEdge<'_>],
    order: &[usize],
    forward_out: &Rows,
    issues: &mut Issues,
) {
    let n_nodes = graph.nodes.len();
    let mut candidate = vec![true; n_nodes];
    order.iter().for_each(|&node| candidate[node] = false);
    let successor = |node: usize, cursor: usize| {
        forward_out.row(node).get(cursor).map(|&edge_idx| edges[edge_idx].target)
    };
    let mut state = Tarjan {
        number: vec![usize::MAX; n_nodes],
        low: vec![0; n_nodes],
        on_stack: vec![false; n_nodes],
        stack: Vec::new(),
        calls: Vec::new(),
        counter: 0,
    };
    for root in (0..n_nodes).filter(|&node| candidate[node]) {
        if state.number[root] != usize::MAX {
            continue;
        }
        state.enter(root);
        while let Some(&(node, cursor)) = state.calls.last() {
            if let Some(next) = successor(node, cursor) {
                if let Some(call) = state.calls.last_mut() {
                    call.1 += 1;
                }
                if !candidate[next] {
                    continue;
                }
                if state.number[next] == usize::MAX {
                    state.enter(next);
                } else if state.on_stack[next] {
                    state.low[node] = state.low[node].min(state.number[next]);
                }
                continue;
            }
            state.calls.pop();
            if let Some(&(parent, _)) = state.calls.last() {
                state.low[parent] = state.low[parent].min(state.low[node]);
            }
            if state.low[node] != state.number[node] {
                continue;
            }
            let mut component = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack[member] = false;
                component.push(member);
                if member == node {
                    break;
                }
            }
            let self_loop = forward_out.row(node).iter().any(|&edge_idx| edges[edge_idx].target == node);
            if component.len() > 1 || self_loop {
                component.sort_unstable();
                report_cycle(graph, &component, issues);
            }
        }
    }
}

fn report_cycle(graph: &Graph, component: &[usize], issues: &mut Issues) {
    const SHOWN: usize = 10;
    let mut names: Vec<String> =
        component.iter().take(SHOWN).map(|&idx| format!("`{}`", graph.nodes[idx].id)).collect();
    if component.len() > SHOWN {
        names.push(format!("and {} more", component.len() - SHOWN));
    }
    let first = component[0];
    let message = format!(
        "cycle through {}; only an edge into a loop's `continue` input may close a cycle",
        names.join(", ")
    );
    issues.push("cycle", format!("nodes[{first}]"), Some(&graph.nodes[first].id), message);
}
