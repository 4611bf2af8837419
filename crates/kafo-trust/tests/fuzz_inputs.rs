//! The fuzz targets' bodies (`kafo_trust::fuzz`) on stable: the seed corpus
//! (`fuzz/seeds/<target>/`), every crash input ever found
//! (`fuzz/regressions/<target>/`), every truncation and bit flip of the seeds,
//! and random bytes. A panic is a failure.
//!
//! `KAFO_TRUST_WRITE_CORPUS=1 cargo test -p kafo-trust --test fuzz_inputs`
//! rewrites the seed corpus from deterministic keys (after a format change).

use std::path::{Path, PathBuf};

use kafo_trust::fuzz::TARGETS;
use kafo_trust::{
    Attestation, Credentials, DeviceKey, Disclosure, Frontier, ProgramKey, Revocation, Role,
    Scopes, SignedEnvelope, TrustBook,
};
use libp2p_identity::ed25519::{Keypair, SecretKey};
use proptest::prelude::*;

const NOW: u64 = 1_750_000_000;
const DAY: u64 = 86_400;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn device(seed: u8) -> (Keypair, DeviceKey) {
    let keypair = Keypair::from(SecretKey::try_from_bytes([seed; 32]).expect("32 bytes"));
    let key = DeviceKey::from_public(&keypair.public());
    (keypair, key)
}

fn scopes(list: &[&str]) -> Scopes {
    Scopes::only(list.iter().map(|s| s.parse().expect("valid scope")))
}

/// Deterministic valid inputs for every target.
fn seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let program = ProgramKey::from_secret_bytes([7; 32]);
    let (admin_key, admin) = device(1);
    let (sup_key, sup) = device(2);
    let (_, chw) = device(3);
    let admin_enrolment = program
        .enrol(admin, Role::Admin, Scopes::All, NOW, NOW + 90 * DAY)
        .expect("root")
        .verify(&program.id(), NOW)
        .expect("verifies");
    let sup_enrolment = admin_enrolment
        .enrol(
            &admin_key,
            sup,
            Role::Supervisor,
            scopes(&["sikoro", "banconi/chw-02"]),
            NOW,
            NOW + 60 * DAY,
        )
        .expect("enrolled")
        .verify(&program.id(), NOW)
        .expect("verifies");
    let chw_chain = sup_enrolment
        .enrol(
            &sup_key,
            chw,
            Role::Chw,
            scopes(&["sikoro/chw-01"]),
            NOW,
            NOW + 30 * DAY,
        )
        .expect("enrolled");
    let frontier: Frontier = [(vec![0xaa; 32], 17), (vec![0xbb; 32], 3)].into();
    let by_program = program
        .revoke(chw, "lost phone", NOW, frontier.clone())
        .expect("issued");
    let by_supervisor =
        Revocation::issue(&sup_enrolment, &sup_key, chw, "stolen", NOW + 1, frontier)
            .expect("issued");
    let mut book = TrustBook::new(program.id());
    for chain in [admin_enrolment.chain(), sup_enrolment.chain(), &chw_chain] {
        book.learn_chain(chain, NOW).expect("valid");
    }
    book.learn_revocation(by_program.clone()).expect("valid");
    let envelope = SignedEnvelope {
        body: b"automerge change bytes".to_vec(),
        chains: vec![chw_chain.clone(), sup_enrolment.chain().clone()],
        signatures: vec![([9; 32], Attestation::sign(&sup_key, &[9; 32]))],
    };
    vec![
        (
            "chain_decode",
            "admin-root",
            admin_enrolment.chain().encode(),
        ),
        ("chain_decode", "three-certificates", chw_chain.encode()),
        (
            "chain_from_text",
            "three-certificates",
            chw_chain.to_text().into_bytes(),
        ),
        ("chain_from_text", "lowercase-wrapped", {
            let text = sup_enrolment.chain().to_text().to_ascii_lowercase();
            let (a, b) = text.split_at(40);
            format!(" {a}\n{b} ").into_bytes()
        }),
        ("revocation_decode", "by-program", by_program.encode()),
        ("revocation_decode", "by-supervisor", by_supervisor.encode()),
        (
            "credentials_decode",
            "chw",
            Credentials {
                chain: Some(chw_chain.clone()),
            }
            .encode(),
        ),
        ("credentials_decode", "unenrolled", Vec::new()),
        (
            "disclosure_decode",
            "two",
            Disclosure {
                revocations: vec![by_program, by_supervisor],
                settlements: Vec::new(),
            }
            .encode(),
        ),
        ("envelope_decode", "signed", envelope.encode()),
        ("book_decode", "three-devices", book.encode()),
    ]
}

fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<_> = entries
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).expect("readable input");
            (p, bytes)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_seed_corpus_is_current_and_decodes() {
    let seeds = seeds();
    if std::env::var_os("KAFO_TRUST_WRITE_CORPUS").is_some() {
        for (target, name, bytes) in &seeds {
            let dir = fuzz_dir().join("seeds").join(target);
            std::fs::create_dir_all(&dir).expect("corpus directory");
            std::fs::write(dir.join(name), bytes).expect("written");
        }
    }
    for (target, name, bytes) in &seeds {
        let path = fuzz_dir().join("seeds").join(target).join(name);
        let stored =
            std::fs::read(&path).unwrap_or_else(|_| panic!("missing seed {}", path.display()));
        assert_eq!(
            &stored,
            bytes,
            "{} is stale: rewrite the corpus",
            path.display()
        );
    }
    // Every seed is a valid input of its decoder.
    for (target, _, bytes) in &seeds {
        let ok = match *target {
            "chain_decode" => kafo_trust::Chain::decode(bytes).is_ok(),
            "chain_from_text" => {
                kafo_trust::Chain::from_text(&String::from_utf8_lossy(bytes)).is_ok()
            }
            "revocation_decode" => Revocation::decode(bytes).is_ok(),
            "credentials_decode" => Credentials::decode(bytes).is_ok(),
            "disclosure_decode" => Disclosure::decode(bytes).is_ok(),
            "envelope_decode" => SignedEnvelope::decode(bytes).is_ok(),
            "book_decode" => TrustBook::decode(bytes).is_ok(),
            other => panic!("unknown target {other}"),
        };
        assert!(ok, "a {target} seed does not decode");
    }
}

#[test]
fn every_corpus_and_regression_input_is_handled() {
    for (target, run) in TARGETS {
        let corpus = files(&fuzz_dir().join("seeds").join(target));
        assert!(!corpus.is_empty(), "no corpus for {target}");
        let regressions = files(&fuzz_dir().join("regressions").join(target));
        for (_, bytes) in corpus.iter().chain(&regressions) {
            run(bytes);
        }
    }
    let regressions: usize = TARGETS
        .iter()
        .map(|(t, _)| files(&fuzz_dir().join("regressions").join(t)).len())
        .sum();
    assert!(regressions > 0, "no regression inputs");
}

#[test]
fn every_truncation_and_bit_flip_of_the_seeds_is_handled() {
    for (target, run) in TARGETS {
        for (_, seed) in files(&fuzz_dir().join("seeds").join(target)) {
            for cut in 0..seed.len() {
                run(&seed[..cut]);
            }
            for position in 0..seed.len() {
                for mask in [0x01, 0x80, 0xff] {
                    let mut mutated = seed.clone();
                    mutated[position] ^= mask;
                    run(&mutated);
                }
            }
        }
    }
}

proptest! {
    #[test]
    fn random_bytes_are_handled(bytes in prop::collection::vec(any::<u8>(), 0..512), version in 0..2u8) {
        let mut bytes = bytes;
        if let Some(first) = bytes.first_mut() {
            *first = version; // mostly the current version byte, to get past it
        }
        for (_, run) in TARGETS {
            run(&bytes);
        }
    }
}
