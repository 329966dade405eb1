"""Connecting a private repository: cloned, fetched and pushed with the forge's token, which is
never written into the clone's remote URL, a config file, a log or an event.

Given a git server that, like GitHub for a private repository, answers 401 without a token,
when `gt rig add` clones it with `github.token` (or `gitlab.token`) set, then the clone works,
the server saw the token as basic auth beside the forge's user name (`x-access-token` /
`oauth2`), and no file of the town but `secrets.toml` holds it; without a token the refusal is
one sentence naming the setting and the scopes.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from gastown.scripted.githttp import GitOverHttp
from tests.conftest import Gt, run_git

TOKEN = "ghp_s3cr3tTokenValue"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitOverHttp]:
    root = tmp_path / "served"
    seed = tmp_path / "seed"
    seed.mkdir()
    run_git("init", "-q", "-b", "main", cwd=seed)
    (seed / "README.md").write_text("private\n")
    run_git("add", ".", cwd=seed)
    run_git("-c", "user.name=Dev", "-c", "user.email=d@x", "commit", "-qm", "first", cwd=seed)
    (root / "acme").mkdir(parents=True)
    run_git("clone", "-q", "--bare", str(seed), str(root / "acme" / "app.git"), cwd=tmp_path)
    with GitOverHttp(root, tokens={TOKEN}) as served:
        yield served


def town_at(tmp_path: Path, name: str, forge: str = "github") -> Gt:
    assert Gt(tmp_path)("init", str(tmp_path / name)).code == 0
    gt = Gt(tmp_path / name)
    # A self-hosted forge on this host: the rig's URL is matched to it by the API's host.
    gt.ok("config", "set", f"{forge}.api_url", "http://127.0.0.1:9")
    return gt


def basic_users(server: GitOverHttp) -> set[str]:
    """The user names the server saw beside a password in basic auth."""
    return {
        base64.b64decode(h[6:]).decode().partition(":")[0]
        for h in server.seen
        if h.startswith("Basic ")
    }


@pytest.mark.parametrize(("forge", "user"), [("github", "x-access-token"), ("gitlab", "oauth2")])
def test_a_private_repository_is_cloned_with_the_token_and_the_token_stays_secret(
    tmp_path: Path, server: GitOverHttp, forge: str, user: str
) -> None:
    gt = town_at(tmp_path, "town", forge)
    gt.ok("config", "set", f"{forge}.token", TOKEN)
    url = server.repo_url("acme/app.git")
    added = gt.json("rig", "add", "app", url)
    assert added["url"] == url and added["branch"] == "main"
    assert basic_users(server) == {user}  # the token, as basic auth with the forge's user

    clone = tmp_path / "town" / "rigs" / "app"
    assert run_git("remote", "get-url", "origin", cwd=clone).strip() == url
    holders = [
        p.relative_to(tmp_path / "town")
        for p in (tmp_path / "town").rglob("*")
        if p.is_file() and TOKEN.encode() in p.read_bytes()
    ]
    assert [str(h) for h in holders] == ["secrets.toml"]
    assert TOKEN not in gt.ok("events", "--limit", "0").out


def test_the_town_fetches_with_the_token_too(tmp_path: Path, server: GitOverHttp) -> None:
    """A refinery step or a dispatch fetches the rig's remote: with the token, never stored."""
    from gastown import config
    from gastown.forge.gitauth import authorize_url
    from gastown.git import worktree as wt
    from gastown.git.repo import authorize
    from gastown.town import load

    gt = town_at(tmp_path, "town")
    gt.ok("config", "set", "github.token", TOKEN)
    url = server.repo_url("acme/app.git")
    gt.ok("rig", "add", "app", url)
    authorize(url, None)  # as a fresh town process: nothing known until a step asks
    clone = tmp_path / "town" / "rigs" / "app"
    with pytest.raises(Exception, match="fetch failed"):
        wt.fetch(clone)
    settings = config.resolve(load(tmp_path / "town").settings, None, {})
    assert authorize_url(url, settings, {}) == "github"
    wt.fetch(clone)
    assert TOKEN.encode() not in (clone / ".git" / "config").read_bytes()


def test_without_a_token_the_refusal_names_the_setting(tmp_path: Path, server: GitOverHttp) -> None:
    gt = town_at(tmp_path, "bare-town")
    from gastown.git.repo import authorize

    url = server.repo_url("acme/app.git")
    authorize(url, None)  # nothing left over from another test in this process
    refused = gt("rig", "add", "app", url)
    assert refused.code != 0
    assert "could not be cloned without credentials: set `github.token`" in refused.err
    assert "`repo` scope" in refused.err
    assert not (tmp_path / "bare-town" / "rigs" / "app").exists()
    assert gt.json("rig", "list") == []

    gt.ok("config", "set", "github.token", "wrong-token")
    wrong = gt("rig", "add", "app", url)
    assert wrong.code != 0 and "refused to let the token in the settings clone" in wrong.err
    assert "wrong-token" not in wrong.err


def test_a_town_that_is_a_github_app_clones_with_a_minted_installation_token(
    tmp_path: Path,
) -> None:
    """No token, only the App's credentials: git gets an installation token minted for it,
    kept in memory only, and the fake GitHub's git lets in exactly the tokens it issued."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from gastown.scripted.github import FakeGitHub

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    root = tmp_path / "served"
    seed = tmp_path / "seed"
    seed.mkdir()
    run_git("init", "-q", "-b", "main", cwd=seed)
    (seed / "README.md").write_text("private\n")
    run_git("add", ".", cwd=seed)
    run_git("-c", "user.name=Dev", "-c", "user.email=d@x", "commit", "-qm", "first", cwd=seed)
    (root / "acme").mkdir(parents=True)
    bare = root / "acme" / "app.git"
    run_git("clone", "-q", "--bare", str(seed), str(bare), cwd=tmp_path)
    fake = FakeGitHub(
        {"acme/app": bare}, token="unused", apps={42: public.decode()}, installations={7: 42}
    )
    with fake, GitOverHttp(root, tokens=fake.issued_tokens) as git_server:
        gt = town_at(tmp_path, "app-town")
        for key_, value in (
            ("github.api_url", fake.url),
            ("github.app_id", "42"),
            ("github.app_installation_id", "7"),
            ("github.app_private_key", private),
        ):
            gt.ok("config", "set", key_, value)
        url = git_server.repo_url("acme/app.git")
        gt.ok("rig", "add", "app", url)
        (token,) = fake.issued_tokens
    assert (
        run_git("remote", "get-url", "origin", cwd=tmp_path / "app-town" / "rigs" / "app").strip()
        == url
    )
    holders = [
        p
        for p in (tmp_path / "app-town").rglob("*")
        if p.is_file() and token.encode() in p.read_bytes()
    ]
    assert holders == []  # the minted token lives in memory only


def test_without_a_gitlab_token_the_refusal_names_the_setting_and_the_api_scope(
    tmp_path: Path, server: GitOverHttp
) -> None:
    gt = town_at(tmp_path, "bare-town", "gitlab")
    from gastown.git.repo import authorize

    url = server.repo_url("acme/app.git")
    authorize(url, None)  # nothing left over from another test in this process
    refused = gt("rig", "add", "app", url)
    assert refused.code != 0
    assert "could not be cloned without credentials: set `gitlab.token`" in refused.err
    assert "`api` scope" in refused.err and "github" not in refused.err
    assert not (tmp_path / "bare-town" / "rigs" / "app").exists()
    assert gt.json("rig", "list") == []

    gt.ok("config", "set", "gitlab.token", "wrong-token")
    wrong = gt("rig", "add", "app", url)
    assert wrong.code != 0 and "refused to let the token in the settings clone" in wrong.err
    assert "wrong-token" not in wrong.err
