//! The capability boundary: `..`, absolute paths outside the root and
//! symlinks that leave it are `access_denied` for reads and writes, and
//! nothing outside the root is read, created or locked. The guest itself
//! has no ambient authority.

use std::os::unix::fs::symlink;
use std::path::Path;

use exlab_cache::{Cache, MarkerKind, Policy, Root, Settings};
use exlab_cache_tests::*;

/// A root inside an outer folder holding a file that must stay unreachable.
struct Jail {
    outer: tempfile::TempDir,
    cache: Cache,
}

impl Jail {
    fn new() -> Self {
        let outer = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outer.path().join("root")).unwrap();
        std::fs::create_dir_all(outer.path().join("secret")).unwrap();
        std::fs::write(outer.path().join("secret/equipment.json"), b"{}").unwrap();
        let cache = Cache::open(outer.path().join("root")).unwrap();
        Jail { outer, cache }
    }

    fn root(&self) -> std::path::PathBuf {
        self.outer.path().join("root")
    }

    fn outside(&self) -> Vec<String> {
        tree(self.outer.path())
            .into_iter()
            .filter(|p| !p.starts_with("root"))
            .collect()
    }

    /// Every kind of call at `path` is denied, and nothing outside changes.
    fn assert_denied(&self, path: &str) {
        let before = self.outside();
        let calls = [
            self.cache.read_equipment(path).err(),
            self.cache
                .write_equipment(path, &equipment_input("L"))
                .err(),
            self.cache.read_marker(MarkerKind::TestRuns, path).err(),
            self.cache
                .write_marker(MarkerKind::Runs, path, &marker_input("P"))
                .err(),
        ];
        for e in calls {
            let e = e.unwrap_or_else(|| panic!("{path} was allowed"));
            assert_eq!(e.code(), "access_denied", "{path}: {e}");
        }
        assert_eq!(
            self.outside(),
            before,
            "{path} touched something outside the root"
        );
        assert_eq!(
            std::fs::read(self.outer.path().join("secret/equipment.json")).unwrap(),
            b"{}"
        );
    }
}

#[test]
fn dot_dot_that_climbs_out_is_denied() {
    let jail = Jail::new();
    for path in [
        "../secret/equipment.json",
        "a/../../secret/equipment.json",
        "../new/x.json",
        "..",
    ] {
        jail.assert_denied(path);
    }
}

#[test]
fn dot_dot_that_stays_inside_is_allowed() {
    let jail = Jail::new();
    jail.cache
        .write_equipment("a/b/../c/equipment.json", &equipment_input("L"))
        .unwrap();
    assert!(jail.root().join("a/c/equipment.json").is_file());
    assert!(
        !jail.root().join("a/b").exists(),
        "resolved lexically, nothing extra created"
    );
}

#[test]
fn absolute_paths_outside_the_root_are_denied_and_inside_allowed() {
    let jail = Jail::new();
    let secret = jail.outer.path().join("secret/equipment.json");
    jail.assert_denied(secret.to_str().unwrap());
    jail.assert_denied("/etc/hostname");
    let inside = jail.root().join("A/equipment.json");
    jail.cache
        .write_equipment(inside.to_str().unwrap(), &equipment_input("L"))
        .unwrap();
    assert!(inside.is_file());
}

#[test]
fn symlinked_folders_that_leave_the_root_are_denied() {
    let jail = Jail::new();
    symlink(jail.outer.path().join("secret"), jail.root().join("link")).unwrap();
    symlink("/", jail.root().join("slash")).unwrap();
    jail.assert_denied("link/equipment.json");
    jail.assert_denied("link/deeper/equipment.json");
    jail.assert_denied("slash/tmp/equipment.json");
}

#[test]
fn symlinked_files_and_lock_files_that_leave_the_root_are_denied() {
    let jail = Jail::new();
    std::fs::create_dir(jail.root().join("d")).unwrap();
    symlink(
        jail.outer.path().join("secret/equipment.json"),
        jail.root().join("d/equipment.json"),
    )
    .unwrap();
    jail.assert_denied("d/equipment.json");
    // A lock file planted as a symlink to outside is not followed either.
    std::fs::create_dir(jail.root().join("e")).unwrap();
    symlink(
        jail.outer.path().join("secret/planted.lock"),
        jail.root().join("e/equipment.json.lock"),
    )
    .unwrap();
    let before = jail.outside();
    let e = jail
        .cache
        .write_equipment("e/equipment.json", &equipment_input("L"))
        .unwrap_err();
    assert_eq!(e.code(), "access_denied", "{e}");
    assert_eq!(jail.outside(), before);
}

#[test]
fn symlinks_that_stay_inside_the_root_are_followed() {
    let jail = Jail::new();
    std::fs::create_dir(jail.root().join("real")).unwrap();
    symlink("real", jail.root().join("alias")).unwrap();
    jail.cache
        .write_equipment("alias/equipment.json", &equipment_input("L"))
        .unwrap();
    assert!(jail.root().join("real/equipment.json").is_file());
    assert_eq!(
        jail.cache
            .read_equipment("alias/equipment.json")
            .unwrap()
            .label,
        "L"
    );
}

#[test]
fn a_root_given_as_a_capability_denies_every_absolute_path() {
    let dir = tempfile::tempdir().unwrap();
    let cap = cap_std::fs::Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority()).unwrap();
    let cache = Cache::new(
        Root::from_dir(cap, None),
        Policy::builtin().unwrap(),
        Settings::default(),
    );
    let inside = dir.path().join("x.json");
    let e = cache.read_equipment(inside.to_str().unwrap()).unwrap_err();
    assert_eq!(e.code(), "access_denied");
    cache
        .write_equipment("x.json", &equipment_input("L"))
        .unwrap();
}

#[test]
fn the_guest_has_no_ambient_authority() {
    let dir = tempfile::tempdir().unwrap();
    let policy =
        Policy::from_file(exlab_cache_test_guests::path("tries-ambient-authority")).unwrap();
    let cache = Cache::new(Root::open(dir.path()).unwrap(), policy, Settings::default());
    // The fixture traps if any of its filesystem, env, args or socket attempts work.
    let written = cache.write_equipment(EQUIPMENT, &equipment_input("L"));
    assert!(written.is_ok(), "{written:?}");
    assert!(!Path::new("escape.txt").exists());
    assert_eq!(
        tree(dir.path())
            .iter()
            .filter(|p| p.ends_with("escape.txt"))
            .count(),
        0
    );
}
