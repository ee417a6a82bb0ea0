//! Policy components that misbehave, for the host's tests. Each is the real
//! policy (same bindings, same toolchain) with one behaviour changed by a
//! feature; the host must stop it, release its locks, and keep serving.
//!
//! Built natively (as the tests' dependency), this crate is only the list of
//! the built components: [`path`] and [`bytes`].

#[cfg(not(target_arch = "wasm32"))]
mod built;
#[cfg(not(target_arch = "wasm32"))]
pub use built::{bytes, path, FIXTURES};

// Policy-update fixtures (policy 1.1, a broken policy, another interface
// major) live in their own module.
#[cfg(all(
    target_arch = "wasm32",
    any(
        feature = "policy-1-2",
        feature = "rewrites-first-seen",
        feature = "interface-v2"
    )
))]
mod updates;

// Hostile guests (issue 4) are hooked into the plugin's equipment write.
#[cfg(all(
    target_arch = "wasm32",
    any(feature = "hostile-storage", feature = "ungranted-import")
))]
mod adversarial;

#[cfg(all(
    target_arch = "wasm32",
    not(any(
        feature = "wrong-interface",
        feature = "policy-1-2",
        feature = "rewrites-first-seen",
        feature = "interface-v2"
    ))
))]
mod plugin {
    use exlab_cache_policy::component::exlab::cache::storage;
    use exlab_cache_policy::component::exlab::cache::types::{
        CacheError, Equipment, Marker, MarkerKind,
    };
    use exlab_cache_policy::component::exports::exlab::cache::policy::{
        EquipmentWritten, Guest, MarkerWritten, PolicyInfo,
    };
    use exlab_cache_policy::component::{self as bindings, Policy};

    struct Fixture;

    /// The changed behaviour, run at the start of an equipment write.
    fn misbehave(path: &str) {
        if cfg!(feature = "loop-forever") {
            let mut n = 0u64;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        if cfg!(feature = "grow-memory") {
            let mut hoard = Vec::new();
            loop {
                hoard.push(std::hint::black_box(vec![7u8; 1 << 20]));
            }
        }
        if cfg!(feature = "tries-ambient-authority") {
            let escapes = [
                ("read /etc/hostname", std::fs::read("/etc/hostname").is_ok()),
                ("list /", std::fs::read_dir("/").is_ok()),
                ("list .", std::fs::read_dir(".").is_ok()),
                ("write a file", std::fs::write("escape.txt", b"x").is_ok()),
                ("see an env var", std::env::vars().next().is_some()),
                ("see args", std::env::args().next().is_some()),
                (
                    "open a socket",
                    std::net::TcpStream::connect("127.0.0.1:9").is_ok(),
                ),
            ];
            let got: Vec<&str> = escapes.iter().filter(|e| e.1).map(|e| e.0).collect();
            assert!(
                got.is_empty(),
                "fixture tries-ambient-authority escaped: {got:?}"
            );
        }
        if cfg!(feature = "leak-lock") {
            // Returns normally, its handle to a second file's lock never dropped.
            std::mem::forget(storage::lock(&format!("{path}.leak")).expect("the lock"));
        }
        if cfg!(feature = "trap-holding-lock") {
            let _held = storage::lock(path).expect("the lock");
            panic!("fixture trap-holding-lock: panicked while holding the lock of {path}");
        }
    }

    impl Guest for Fixture {
        fn info() -> PolicyInfo {
            PolicyInfo {
                name: "exlab-cache-test-guest".into(),
                version: "0.0.0".into(),
            }
        }
        fn write_equipment(
            path: String,
            input_json: String,
        ) -> Result<EquipmentWritten, CacheError> {
            #[cfg(any(feature = "hostile-storage", feature = "ungranted-import"))]
            if true {
                return crate::adversarial::write_equipment(path, input_json);
            }
            misbehave(&path);
            <Policy as Guest>::write_equipment(path, input_json)
        }
        fn read_equipment(path: String) -> Result<Equipment, CacheError> {
            <Policy as Guest>::read_equipment(path)
        }
        fn write_marker(
            kind: MarkerKind,
            path: String,
            input_json: String,
        ) -> Result<MarkerWritten, CacheError> {
            <Policy as Guest>::write_marker(kind, path, input_json)
        }
        fn read_marker(kind: MarkerKind, path: String) -> Result<Marker, CacheError> {
            <Policy as Guest>::read_marker(kind, path)
        }
        fn require_schema_major(
            version: Option<String>,
            expected_major: u32,
        ) -> Result<(), CacheError> {
            <Policy as Guest>::require_schema_major(version, expected_major)
        }
    }

    exlab_cache_policy::kinds_as_the_policy!(Fixture);
    bindings::export!(Fixture with_types_in bindings);
}

/// A component of another world altogether: the host must refuse to load it.
#[cfg(all(target_arch = "wasm32", feature = "wrong-interface"))]
mod other_world {
    wit_bindgen::generate!({
        inline: "package fixture:other; world other { export run: func() -> u32; }",
    });

    struct Other;

    impl Guest for Other {
        fn run() -> u32 {
            42
        }
    }

    export!(Other);
}
