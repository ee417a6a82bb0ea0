"""Signed policy updates through the package: ``Cache(..., trusted_keys=)``
admits a swapped-in policy only with a valid minisign signature of a listed
key; ``status()`` says what serves, signed by whom, and why a swap was
refused; ``rollback()`` goes back. Keys and signatures are made here with
py-minisign, an implementation independent of the host's verifier."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Tuple

import pytest

from exlab_cache import PolicyError

from conftest import EQUIPMENT, equipment
from test_sandbox import fixture

minisign = pytest.importorskip("minisign")


def keypair(folder: Path, name: str) -> Tuple[Any, Path]:
    """A new key pair: its secret key, and its public key file."""
    pair = minisign.KeyPair.generate()
    public = folder / f"{name}.pub"
    public.write_bytes(bytes(pair.public_key) + b"\n")
    return pair.secret_key, public


def signed_copy(folder: Path, name: str, secret: Any, comment: str) -> Path:
    """The policy-1-2 fixture copied to `name`, with `name`.minisig beside."""
    policy = folder / name
    policy.write_bytes(Path(fixture("policy-1-2")).read_bytes())
    signature = secret.sign(policy.read_bytes(), prehash=True, trusted_comment=comment)
    Path(str(policy) + ".minisig").write_bytes(bytes(signature) + b"\n")
    return policy


def test_a_policy_signed_by_a_trusted_key_swaps_in_and_the_status_names_its_signer(
    make_cache: Any, root: Path, tmp_path: Path
) -> None:
    secret, public = keypair(tmp_path, "lab")
    cache = make_cache(root, trusted_keys=public)
    policy = signed_copy(tmp_path, "policy.wasm", secret, "lab policy 1.1")
    assert cache.set_policy(policy)["version"] == "1.2.0"
    status = cache.status()
    assert status["serving"]["version"] == "1.2.0"
    assert status["serving"]["signer"]["trusted_comment"] == "lab policy 1.1"
    assert status["attempts"][-1]["outcome"] == "admitted"
    assert cache.write_equipment(EQUIPMENT, equipment())["id"] == "CONFOCAL_01"


def test_an_untrusted_key_or_tampered_bytes_are_refused_and_the_old_policy_serves(
    make_cache: Any, root: Path, tmp_path: Path
) -> None:
    _, public = keypair(tmp_path, "lab")
    stranger, _ = keypair(tmp_path, "stranger")
    cache = make_cache(root, trusted_keys=public)
    before = cache.policy_info()
    policy = signed_copy(tmp_path, "policy.wasm", stranger, "not ours")
    with pytest.raises(PolicyError) as caught:
        cache.set_policy(policy)
    assert "key" in caught.value.message
    # Bytes without their signature are refused too, before compiling.
    with pytest.raises(PolicyError) as caught:
        cache.set_policy(policy.read_bytes())
    assert "signature" in caught.value.message
    assert cache.policy_info() == before
    assert [a["outcome"] for a in cache.status()["attempts"][-2:]] == ["refused", "refused"]


def test_signed_bytes_are_admitted_with_their_signature_and_rollback_goes_back(
    make_cache: Any, root: Path, tmp_path: Path
) -> None:
    secret, public = keypair(tmp_path, "lab")
    cache = make_cache(root, trusted_keys=public)
    first = cache.policy_info()
    policy = signed_copy(tmp_path, "policy.wasm", secret, "by bytes")
    signature = Path(str(policy) + ".minisig").read_text()
    assert cache.set_policy(policy.read_bytes(), signature=signature)["version"] == "1.2.0"
    assert cache.rollback()["sha256"] == first["sha256"]
    assert cache.policy_info()["sha256"] == first["sha256"]
