//! Trust files and signatures: parsing, and each refusal.

use super::*;

// Public keys and signatures made with the minisign 0.11 tool for these
// tests (`minisign -G -W`, `minisign -S [-l] -t ...`); no secret key is
// kept. The key ids are the ones minisign printed in the comments.
const KEY_A: &str = "untrusted comment: minisign public key 7B1D867FD7A2F13A\n\
                     RWQ68aLXf4Yde4SXX3trGaW3T1NuBkiPqjejcSxVdqyC4KKs1UKAw9if\n";
const KEY_B: &str = "untrusted comment: minisign public key F02760C5019B2C3B\n\
                     RWQ7LJsBxWAn8OwfHOS4+6Ul76O8c3PRVzHvpn1L84DfD2O6oxklbxUm\n";
const KEY_B_LINE: &str = "RWQ7LJsBxWAn8OwfHOS4+6Ul76O8c3PRVzHvpn1L84DfD2O6oxklbxUm";
const POLICY: &[u8] = b"exlab policy bytes";
const SIG_PREHASHED: &str = "untrusted comment: signature from minisign secret key\n\
    RUQ68aLXf4Yde5P5vSJbOxe4yhhTfNnFzV5TlFNuyoKKGeOkXz1JqWF11bFqquNkEOkcO4gH7IKx4IMzNDTRsUEgDsox8+AchAI=\n\
    trusted comment: lab A, policy 1.1.0\n\
    kK1t/lWvrMRDSX0/TLkaM0o2FU8aIdjjtfr7L676iXQrRFmmIeZAr0p1CBQ8EOBXIW+yNZuAcfSCErHu3qn8Dw==\n";
const SIG_LEGACY: &str = "untrusted comment: signature from minisign secret key\n\
    RWQ68aLXf4Yde/HGNTCe3WpVfTMTtl3Bb+00JU6cjA0DZzyzYxySRXPvj4YFbgLo/e9UWzOq3m9CtLgmh2FlSy6R0+3lbPfLzAQ=\n\
    trusted comment: lab A, legacy\n\
    icpOiL7uEZEt1INclPFNSbCz5Rx0OAqNeqd1OIkVIpef5ziC56vIKnkVdlnz1XYKMNqgO0hSVDJCmOT3jAcPCg==\n";

fn refused(e: Error, needles: &[&str]) {
    assert_eq!(e.code(), "policy_error", "{e:?}");
    for needle in needles {
        assert!(e.message().contains(needle), "{needle:?} not in {e}");
    }
}

#[test]
fn a_minisign_pub_file_gives_its_key_id_as_minisign_prints_it() {
    let keys = TrustedKeys::parse(KEY_A, "trusted.pub").unwrap();
    assert_eq!(keys.key_ids(), ["7B1D867FD7A2F13A"]);
    assert_eq!(
        keys.keys()[0].comment(),
        Some("minisign public key 7B1D867FD7A2F13A")
    );
    assert_eq!(keys.source(), "trusted.pub");
    assert!(keys.get("7b1d867fd7a2f13a").is_some());
    assert!(keys.get("7B1D867FD7A2F13B").is_none());
    assert!(keys.get("not hex").is_none());
}

#[test]
fn a_key_id_is_16_digits_even_with_leading_zeros() {
    assert_eq!(
        key_id(&[0x83, 0x0b, 0x7a, 0xbb, 0x0e, 0x87, 0x40, 0x03]),
        "0340870EBB7A0B83"
    );
    let mut raw = vec![b'E', b'd'];
    raw.extend([0x83, 0x0b, 0x7a, 0xbb, 0x0e, 0x87, 0x40, 0x03]);
    raw.extend([7u8; 32]);
    let line = base64::engine::general_purpose::STANDARD.encode(raw);
    let keys = TrustedKeys::parse(&line, "t").unwrap();
    assert_eq!(keys.key_ids(), ["0340870EBB7A0B83"]);
    // minisign's own spelling finds it.
    assert!(keys.get("340870EBB7A0B83").is_some());
}

#[test]
fn several_keys_comments_blank_lines_and_a_bare_key_line() {
    let text = format!("# lab A\n\n{KEY_A}\n   \n# lab B, no comment line\n  {KEY_B_LINE}  \r\n");
    let keys = TrustedKeys::parse(&text, "trusted").unwrap();
    assert_eq!(keys.key_ids(), ["7B1D867FD7A2F13A", "F02760C5019B2C3B"]);
    assert_eq!(keys.keys()[1].comment(), None);
    // The same key twice is one key.
    let twice = TrustedKeys::parse(&format!("{KEY_A}{KEY_A}{KEY_B}"), "t").unwrap();
    assert_eq!(twice.len(), 2);
}

#[test]
fn an_empty_file_trusts_nothing() {
    let keys = TrustedKeys::parse("# all keys revoked\n", "trusted").unwrap();
    assert!(keys.is_empty());
    refused(
        verify(&keys, POLICY, SIG_PREHASHED, "p.wasm").unwrap_err(),
        &[
            "p.wasm",
            "7B1D867FD7A2F13A",
            "not trusted",
            "trusts no keys",
        ],
    );
}

#[test]
fn a_malformed_line_refuses_the_whole_file_naming_the_line() {
    let cases: &[(String, &str, &str)] = &[
        (format!("{KEY_A}not a key\n"), "line 3", "not a minisign public key"),
        // Truncated key line.
        (format!("# x\n{}\n", &KEY_B_LINE[..40]), "line 2", "not a minisign public key"),
        // A signature line is base64 too, but not a key.
        (format!("{}\n", SIG_PREHASHED.lines().nth(1).unwrap()), "line 1", "not a minisign public key"),
        // Two comments in a row, and a comment at the end.
        (format!("untrusted comment: a\n{KEY_B}"), "line 1", "no key line after it"),
        (format!("{KEY_A}untrusted comment: dangling\n"), "line 3", "no key line after it"),
        // The algorithm bytes of a key must be "Ed".
        ("RWR0lPHhGyn/SDQ495tXjGLS5iUqaTOKSOpDRAMvGYD6XjHKoAMGPlZ3\nQUJ0lPHhGyn/SDQ495tXjGLS5iUqaTOKSOpDRAMvGYD6XjHKoAMGPlZ3\n".into(), "line 2", "not an Ed25519"),
    ];
    for (text, line, why) in cases {
        let e = TrustedKeys::parse(text, "/etc/exlab/trusted.pub").unwrap_err();
        refused(
            e,
            &[
                "/etc/exlab/trusted.pub",
                line,
                why,
                "the whole file is refused",
            ],
        );
    }
    // One key id with two different keys is ambiguous.
    let a_line = KEY_A.lines().nth(1).unwrap();
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(a_line)
        .unwrap();
    raw[41] ^= 1;
    let forged = base64::engine::general_purpose::STANDARD.encode(raw);
    let e = TrustedKeys::parse(&format!("{KEY_A}{forged}\n"), "t").unwrap_err();
    refused(e, &["line 3", "key id 7B1D867FD7A2F13A is listed before"]);
}

#[test]
fn the_refused_line_is_not_echoed() {
    let secret_looking = "RWRTY0IyEXAMPLEONLYnotarealsecretkey";
    let e = TrustedKeys::parse(secret_looking, "t").unwrap_err();
    assert!(!e.message().contains(secret_looking), "{e}");
}

#[test]
fn prehashed_and_legacy_signatures_verify_and_report_the_signer() {
    let keys = TrustedKeys::parse(&format!("{KEY_B}{KEY_A}"), "trusted").unwrap();
    let signer = verify(&keys, POLICY, SIG_PREHASHED, "p.wasm").unwrap();
    assert_eq!(
        signer,
        Signer {
            key_id: "7B1D867FD7A2F13A".into(),
            trusted_comment: "lab A, policy 1.1.0".into()
        }
    );
    let legacy = verify(&keys, POLICY, SIG_LEGACY, "p.wasm").unwrap();
    assert_eq!(legacy.trusted_comment, "lab A, legacy");
}

#[test]
fn each_refusal_says_why() {
    let keys = TrustedKeys::parse(KEY_A, "trusted").unwrap();
    refused(
        verify(&keys, b"exlab policy bytez", SIG_PREHASHED, "p.wasm").unwrap_err(),
        &["policy p.wasm", "by key 7B1D867FD7A2F13A does not verify"],
    );
    // The trusted comment is covered by the global signature.
    let relabelled = SIG_PREHASHED.replace("policy 1.1.0", "policy 9.9.9");
    refused(
        verify(&keys, POLICY, &relabelled, "p.wasm").unwrap_err(),
        &["does not verify"],
    );
    let only_b = TrustedKeys::parse(KEY_B, "trusted").unwrap();
    refused(
        verify(&only_b, POLICY, SIG_PREHASHED, "p.wasm").unwrap_err(),
        &["signed by key 7B1D867FD7A2F13A, which is not trusted (trusted trusts F02760C5019B2C3B)"],
    );
    for garbage in ["", "just text\n", &SIG_PREHASHED[..120]] {
        refused(
            verify(&keys, POLICY, garbage, "p.wasm").unwrap_err(),
            &["policy p.wasm", "is not a minisign signature"],
        );
    }
}

#[test]
fn the_signature_of_a_file_is_beside_it() {
    assert_eq!(
        signature_path(Path::new("/etc/exlab/policy.wasm")),
        Path::new("/etc/exlab/policy.wasm.minisig")
    );
}

#[test]
fn files_read_are_regular_and_small() {
    let dir = tempfile::tempdir().unwrap();
    let e = TrustedKeys::from_file(dir.path()).unwrap_err();
    refused(e, &["cannot read the trusted keys", "not a regular file"]);
    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'#'; MAX_TRUST_FILE as usize + 1]).unwrap();
    refused(TrustedKeys::from_file(&big).unwrap_err(), &["limit"]);
    // A FIFO is refused at once rather than waited on for a writer.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        refused(
            TrustedKeys::from_file(&fifo).unwrap_err(),
            &["not a regular file"],
        );
    }
    let missing = dir.path().join("policy.wasm");
    refused(
        verify_beside(&TrustedKeys::parse(KEY_A, "t").unwrap(), &missing, POLICY).unwrap_err(),
        &["no signature", "policy.wasm.minisig"],
    );
}
