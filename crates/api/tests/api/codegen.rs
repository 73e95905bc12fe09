//! The committed bindings, OpenRPC document and error table are what codegen writes.
//! `cargo xtask codegen` (which sets WEFT_UPDATE_BINDINGS=1) rewrites them.

use std::path::PathBuf;

#[test]
fn generated_files_are_fresh() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let registry = weft_api::routers::registry();
    let openrpc = weft_api::codegen::openrpc_document(&registry);
    let update = std::env::var_os("WEFT_UPDATE_BINDINGS").is_some();
    let mut stale = Vec::new();
    for (path, contents) in weft_api::codegen::generated_files(&registry, &openrpc) {
        let file = root.join(&path);
        let current = std::fs::read_to_string(&file).unwrap_or_default();
        if current != contents {
            if update {
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(&file, contents).unwrap();
                eprintln!("updated {path}");
            } else {
                stale.push(path);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated files are out of date: {stale:?}\nrun `cargo xtask codegen` and commit the result"
    );
}

#[test]
fn every_procedure_is_in_the_client_and_the_openrpc_document() {
    let registry = weft_api::routers::registry();
    let openrpc = weft_api::codegen::openrpc_document(&registry);
    let files = weft_api::codegen::generated_files(&registry, &openrpc);
    let index = &files.iter().find(|(p, _)| p.ends_with("index.ts")).unwrap().1;
    let methods = openrpc["methods"].as_array().unwrap();
    let names: Vec<&str> = registry.procedures().map(|p| p.name).collect();
    assert!(names.len() >= 10);
    for name in names {
        assert!(index.contains(&format!("rpc.call(\"{name}\"")), "{name} missing from index.ts");
        let method = methods
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from openrpc"));
        assert_eq!(method["paramStructure"], "by-name");
    }
    // Params are described field by field, with required flags.
    let register = methods.iter().find(|m| m["name"] == "auth.register").unwrap();
    let params: Vec<&str> =
        register["params"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(params, ["email", "password", "displayName"]);
    assert!(register["params"].as_array().unwrap().iter().all(|p| p["required"] == true));
    assert_eq!(register["x-weft-access"]["authenticated"], false);
    let set_role = methods.iter().find(|m| m["name"] == "auth.setRole").unwrap();
    assert_eq!(set_role["x-weft-access"]["role"], "ADMIN");
}

#[test]
fn readme_shows_the_error_table() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let table = weft_api::codegen::errors_markdown();
    for row in table.lines().filter(|line| line.starts_with("| -")) {
        assert!(
            readme.contains(row),
            "README.md's error table is out of date; copy it from docs/errors.md:\n{row}"
        );
    }
}
