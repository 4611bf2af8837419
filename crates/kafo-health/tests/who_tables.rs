//! The vendored WHO tables are byte for byte the files `data/who/SHA256SUMS` lists.

use sha2::{Digest, Sha256};

#[test]
fn vendored_who_tables_match_their_checksums() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/who");
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).expect("SHA256SUMS is readable");
    let mut checked = 0;
    for line in sums.lines().filter(|line| !line.trim().is_empty()) {
        let (expected, name) = line.split_once("  ").expect("`<sha256>  <file>` lines");
        let bytes = std::fs::read(dir.join(name)).expect("a listed table is present");
        let actual: String = Sha256::digest(&bytes)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        assert_eq!(actual, expected, "{name} differs from the vendored file");
        checked += 1;
    }
    assert_eq!(checked, 4, "every table is listed");
}
