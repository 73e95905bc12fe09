//! Graphs for tests and benchmarks: [`sample_graph`] builds a valid graph of any size with
//! every kind of structure validation has to follow (branches that merge in joins, loops
//! with bodies, template references to earlier nodes).

use serde_json::json;

use super::graph::{Edge, Graph, Node, NodeId, Position};
use super::nodes::*;
use super::settings::NodeSettings;

struct Builder {
    graph: Graph,
    /// The node (and its port) the next motif continues from; it runs before everything
    /// that follows.
    tail: (NodeId, &'static str),
}

impl Builder {
    fn add(&mut self, spec: NodeSpec) -> NodeId {
        let idx = self.graph.nodes.len();
        let id = NodeId::numbered(idx);
        let position = Position { x: (idx % 50) as f64 * 200.0, y: (idx / 50) as f64 * 120.0 };
        let name = format!("{} {idx}", spec.node_type());
        self.graph.nodes.push(Node {
            id: id.clone(),
            name,
            position,
            settings: NodeSettings::default(),
            spec,
        });
        id
    }

    fn connect(&mut self, source: &NodeId, source_port: &str, target: &NodeId, target_port: &str) {
        self.graph.edges.push(Edge {
            source: source.clone(),
            source_port: source_port.to_owned(),
            target: target.clone(),
            target_port: target_port.to_owned(),
        });
    }

    fn follow(&mut self, spec: NodeSpec) -> NodeId {
        let id = self.add(spec);
        let (tail, port) = self.tail.clone();
        self.connect(&tail, port, &id, "in");
        id
    }

    fn transform(&mut self) {
        let prev = &self.tail.0;
        let output = json!({ "value": format!("{{{{ nodes.{prev}.output }}}}"), "input": "{{ input.id }}" });
        let id = self.follow(NodeSpec::Transform(TransformConfig { output }));
        self.tail = (id, "out");
    }

    fn diamond(&mut self) {
        let prev = self.tail.0.clone();
        let decision = self.follow(NodeSpec::Decision(DecisionConfig {
            condition: format!("nodes.{prev}.output.value | length > 3"),
        }));
        let left = self.add(NodeSpec::Transform(TransformConfig {
            output: json!({ "short": format!("{{{{ nodes.{prev}.output.value }}}}") }),
        }));
        let right = self.add(NodeSpec::Http(HttpConfig {
            method: HttpMethod::Post,
            url: format!("https://example.invalid/items/{{{{ nodes.{prev}.output.value }}}}"),
            headers: vec![NameValue { name: "X-Run".into(), value: "{{ vars.run }}".into() }],
            query: vec![],
            body: Some(HttpBody::Json(json!({ "id": format!("{{{{ nodes.{decision}.output }}}}") }))),
            timeout_ms: 10_000,
            response: HttpResponseConfig::default(),
            credential_id: None,
        }));
        let join = self.add(NodeSpec::Join(JoinConfig { policy: JoinPolicy::Any, n: None }));
        self.connect(&decision, "true", &left, "in");
        self.connect(&decision, "false", &right, "in");
        self.connect(&left, "out", &join, "in");
        self.connect(&right, "out", &join, "in");
        self.tail = (join, "out");
    }

    fn for_each(&mut self) {
        let prev = self.tail.0.clone();
        let looped = self.follow(NodeSpec::Loop(LoopConfig {
            kind: LoopKind::ForEach,
            items: Some(format!("nodes.{prev}.output.items")),
            concurrency: 4,
            condition: None,
            max_iterations: Some(1000),
        }));
        let body = self.add(NodeSpec::Transform(TransformConfig {
            output: json!({ "line": format!("{{{{ index }}}}: {{{{ item.name }}}} of {{{{ nodes.{prev}.output }}}}") }),
        }));
        self.connect(&looped, "body", &body, "in");
        self.connect(&body, "out", &looped, "continue");
        self.tail = (looped, "done");
    }

    fn ai(&mut self) {
        let prev = &self.tail.0;
        let id = self.follow(NodeSpec::Ai(AiConfig {
            mode: AiMode::Generate,
            model: None,
            task_class: Some(TaskClass::CheapFast),
            system_prompt: Some("You summarise.".into()),
            prompt: format!("Summarise {{{{ nodes.{prev}.output | tojson }}}} for {{{{ input.user }}}}"),
            temperature: Some(0.2),
            max_tokens: Some(200),
            max_cost_usd: Some(0.01),
            output_schema: None,
            branches: vec![],
            credential_id: None,
        }));
        self.tail = (id, "out");
    }
}

/// A valid graph of exactly `n_nodes` nodes (at least 2): a start node, a chain of motifs
/// (transforms, decision diamonds merging in joins, for-each loops with a body, AI calls),
/// and an end node. Every template refers to nodes that precede it.
pub fn sample_graph(n_nodes: usize) -> Graph {
    let mut builder = Builder { graph: Graph::default(), tail: (NodeId::numbered(0), "out") };
    let start = builder.add(NodeSpec::Start(StartConfig::default()));
    builder.tail = (start, "out");
    let mut budget = n_nodes.saturating_sub(2);
    let mut motif = 0usize;
    while budget > 0 {
        let size = [1, 4, 2, 1][motif % 4];
        if size > budget {
            builder.transform();
            budget -= 1;
            continue;
        }
        match motif % 4 {
            0 => builder.transform(),
            1 => builder.diamond(),
            2 => builder.for_each(),
            _ => builder.ai(),
        }
        budget -= size;
        motif += 1;
    }
    let prev = builder.tail.0.clone();
    builder.follow(NodeSpec::End(EndConfig {
        output: Some(json!({ "result": format!("{{{{ nodes.{prev}.output }}}}") })),
    }));
    builder.graph
}

/// A node named after its id, from `{ "type", "config", "settings"? }`.
#[cfg(test)]
pub(crate) fn node(id: &str, value: serde_json::Value) -> Node {
    let node_type = NodeType::parse(value["type"].as_str().unwrap()).unwrap();
    Node {
        id: NodeId::new(id).unwrap(),
        name: id.to_owned(),
        position: Position::default(),
        settings: serde_json::from_value(value.get("settings").cloned().unwrap_or(json!({}))).unwrap(),
        spec: NodeSpec::parse_config(node_type, &value["config"]).unwrap(),
    }
}

/// An edge.
#[cfg(test)]
pub(crate) fn edge(source: &str, source_port: &str, target: &str, target_port: &str) -> Edge {
    Edge {
        source: NodeId::new(source).unwrap(),
        source_port: source_port.to_owned(),
        target: NodeId::new(target).unwrap(),
        target_port: target_port.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{GraphLimits, validate};

    #[test]
    fn sample_graphs_are_valid_and_exactly_sized() {
        for n_nodes in [2, 3, 7, 10, 100] {
            let graph = sample_graph(n_nodes);
            assert_eq!(graph.nodes.len(), n_nodes);
            let report = validate(&graph, &GraphLimits::default());
            assert_eq!(report.issues, [], "{n_nodes} nodes");
        }
    }

    #[test]
    fn a_graph_of_two_thousand_nodes_validates() {
        let graph = sample_graph(2_000);
        let report = validate(&graph, &GraphLimits::default());
        assert!(report.valid, "{:?}", &report.issues[..report.issues.len().min(5)]);
        // One broken reference deep inside is still found.
        let mut broken = graph.clone();
        let last = broken.nodes.len() - 1;
        broken.nodes[last].spec = NodeSpec::End(EndConfig { output: Some(json!("{{ nodes.nope.output }}")) });
        let report = validate(&broken, &GraphLimits::default());
        assert_eq!(report.issues.len(), 1);
        assert_eq!(report.issues[0].code, "templateReference");
        assert_eq!(report.issues[0].path, format!("nodes[{last}].config.output"));
    }

    /// `cargo test -p weft-core --release -- --ignored --nocapture validation_time`
    #[test]
    #[ignore = "timing; run in release"]
    fn validation_time() {
        let graph = sample_graph(2_000);
        let limits = GraphLimits::default();
        let json = serde_json::to_value(&graph).unwrap();
        let time = |f: &dyn Fn()| {
            let mut samples: Vec<_> = (0..30)
                .map(|_| {
                    let started = std::time::Instant::now();
                    f();
                    started.elapsed()
                })
                .collect();
            samples.sort();
            (samples[0], samples[samples.len() / 2])
        };
        let validated = time(&|| assert!(validate(&graph, &limits).valid));
        let parsed = time(&|| assert!(crate::workflow::parse_graph(&json, &limits).is_ok()));
        println!("2,000 nodes (min, median): validate {validated:?}, parse_graph {parsed:?}");
    }
}
