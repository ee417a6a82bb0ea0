//! Policy components that misbehave, for the host's tests. Each is the real
//! policy (same bindings, same toolchain) with one behaviour changed by a
//! feature; the host must stop it, release its locks, and keep serving.
#![cfg(target_arch = "wasm32")]

#[cfg(any(feature = "hostile-storage", feature = "ungranted-import"))]
mod adversarial;

#[cfg(not(feature = "wrong-interface"))]
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

    bindings::export!(Fixture with_types_in bindings);
}

/// A component of another world altogether: the host must refuse to load it.
#[cfg(feature = "wrong-interface")]
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
