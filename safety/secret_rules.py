"""Credential formats the scrubber redacts: our own rules, written from vendors' published formats.

Three families:
- vendor tokens with a distinctive prefix or shape (AWS key ids, GitHub/GitLab/Slack tokens, JWTs);
- name-based values: `password=...`, `"api_key": "..."`, `Authorization: Bearer ...`, CLI flags,
  `scheme://user:pass@host`, with a guard so ordinary values (`auth=ok`) stay;
- values named after a service (`DATADOG_API=...`, `discord_client_id: ...`).

Every pattern is line-local (no `\\s` that could cross a newline) and compiled with re.ASCII so the
hyperscan prefilter, which sees the same pattern, accepts a superset of what Python matches.
Private key blocks span lines and are handled in `safety.scrub`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

REDACTED = "[REDACTED:"


@dataclass(frozen=True)
class SecretRule:
    kind: str
    pattern: str
    group: int | str = 0  # which part of the match is the secret
    caseless: bool = False
    guard: Callable[[str, re.Match[str]], bool] | None = None
    trigger: str | None = None  # prefilter pattern; default: the pattern without its open tail
    anchored: bool = False  # the pattern starts where its trigger starts: match only there
    # Name-based rules match up to the separator; the value is found in code, trying each
    # reading (`"a'b"`, stray quotes) until one passes `value_guard(value, quoted, match)`.
    value_guard: Callable[[str, bool, re.Match[str]], bool] | None = None

    @property
    def prefilter(self) -> str:
        """A pattern matching (within the same line) wherever `pattern` matches, with few end offsets.

        A multi-pattern engine reports every end offset: `[a-z]{36,255}` would report 220 per token.
        Cutting the pattern's open tail keeps a superset (every match has a prefix matching it)
        that ends once per occurrence.
        """
        return self.trigger if self.trigger is not None else _cut(self.pattern)

    @property
    def regex(self) -> re.Pattern[str]:
        return _compiled(self.pattern, self.caseless)

    def spans(self, m: re.Match[str]) -> Iterator[tuple[int, int]]:
        """Where the secret is in a match; for name-based rules the first plausible value."""
        if self.value_guard is None:
            span = m.span(self.group)
            if span[0] >= 0 and span[0] != span[1]:
                secret = m.string[span[0] : span[1]]
                if self.guard is None or self.guard(secret, m):
                    yield span
            return
        for start, end, quoted in assigned_values(m.string, m.end()):
            if self.value_guard(m.string[start:end], quoted, m):
                yield start, end
                return


_CACHE: dict[tuple[str, bool], re.Pattern[str]] = {}
_QUANT = re.compile(r"(?:\{(\d+)(,\d*)?\}|[*+?])\??")


def _atoms(pattern: str) -> list[tuple[int, int, int]]:
    """Top-level (start, end of atom, end of quantifier) of a regex."""
    atoms: list[tuple[int, int, int]] = []
    i = 0
    while i < len(pattern):
        start = i
        c = pattern[i]
        if c == "\\":
            i += 2
        elif c == "[":
            i += 2 if pattern.startswith("[^]", i) or pattern.startswith("[]", i) else 1
            while i < len(pattern) and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            i += 1
        elif c == "(":
            depth = 0
            while i < len(pattern):
                if pattern[i] == "\\":
                    i += 2
                    continue
                depth += {"(": 1, ")": -1}.get(pattern[i], 0)
                i += 1
                if depth == 0:
                    break
        else:
            i += 1
        m = _QUANT.match(pattern, i)
        end = m.end() if m else i
        atoms.append((start, i, end))
        i = end
    return atoms


def _cut(pattern: str) -> str:
    """Drop what can only add end offsets: trailing assertions, optional parts, open repeats."""
    atoms = _atoms(pattern)
    while atoms:
        start, atom_end, end = atoms[-1]
        atom, quant = pattern[start:atom_end], pattern[atom_end:end]
        zero_width = atom in ("\\b", "\\B", "$", "^") or atom.startswith(("(?=", "(?!", "(?<=", "(?<!"))
        m = _QUANT.match(quant) if quant else None
        minimum = (int(m.group(1)) if m.group(1) else (1 if quant[0] == "+" else 0)) if m else 1
        if zero_width or minimum == 0:
            atoms.pop()
            continue
        if m and not (m.group(1) and not m.group(2)):  # a variable repeat: keep its minimum only
            return pattern[:atom_end] + ("" if minimum == 1 else f"{{{minimum}}}")
        return pattern[:end]
    return pattern


def _compiled(pattern: str, caseless: bool) -> re.Pattern[str]:
    key = (pattern, caseless)
    if key not in _CACHE:
        _CACHE[key] = re.compile(pattern, re.ASCII | (re.IGNORECASE if caseless else 0))
    return _CACHE[key]


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


# A token ends where a quote, whitespace, or typical delimiter starts.
_END = r"(?=[\s\"'`;,)}\]<>\\]|$)"


def _v(kind: str, pattern: str, caseless: bool = False, min_entropy: float = 0.0) -> SecretRule:
    guard = (lambda s, m: entropy(s) >= min_entropy) if min_entropy else None
    return SecretRule(kind, pattern, 0, caseless, guard)


VENDOR_RULES: list[SecretRule] = [
    _v("aws-access-key", r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}\b"),
    _v("aws-bedrock-key", r"\bABSK[A-Za-z0-9+/]{100,300}={0,2}"),
    _v("aws-bedrock-key", r"bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/=]*"),
    _v("github-token", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}"),
    _v("github-token", r"\bgithub_pat_[A-Za-z0-9_]{22,255}"),
    _v("gitlab-token", r"\bgl(?:pat|oas|dt|rt|cbt|ptt|ft|imt|agent|soat|ffct|wt|sst)-[0-9A-Za-z_.-]{20,300}"),
    _v("gitlab-token", r"\bGR1348941[0-9A-Za-z_-]{20,}"),
    _v("gitlab-token", r"\b_gitlab_session=[0-9a-z]{32}"),
    _v("slack-token", r"\bxox[abposrte]-[0-9A-Za-z-]{8,}"),
    _v("slack-token", r"\bxoxe\.xox[bp]-\d-[A-Za-z0-9]{100,}", caseless=True),
    _v("slack-token", r"\bxapp-\d-[A-Za-z0-9]+-\d+-[A-Za-z0-9]+"),
    _v(
        "slack-webhook", r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{20,}"
    ),
    _v("discord-webhook", r"https://(?:\w+\.)?discord(?:app)?\.com/api/webhooks/\d+/[\w-]{30,}"),
    _v(
        "teams-webhook",
        r"https://[a-z0-9]+\.webhook\.office\.com/webhookb2/[a-z0-9@-]{40,}/IncomingWebhook/[a-z0-9]{32}/[a-z0-9-]{20,}",
    ),
    _v("atlassian-token", r"\bATATT3[A-Za-z0-9_=-]{100,}"),
    _v("stripe-key", r"\b(?:sk|rk)_(?:live|test|prod)_[0-9A-Za-z]{10,99}"),
    _v("stripe-key", r"\bwhsec_[A-Za-z0-9]{24,}"),
    _v("google-api-key", r"\bAIza[0-9A-Za-z_-]{35}"),
    _v("google-oauth", r"\bya29\.[0-9A-Za-z_-]{20,}"),
    _v("google-oauth", r"\bGOCSPX-[0-9A-Za-z_-]{24,}"),
    _v("openai-key", r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}"),
    _v("openai-key", r"\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}"),
    _v("anthropic-key", r"\bsk-ant-(?:api|admin|oat|ort)\d\d-[A-Za-z0-9_-]{80,}"),
    _v("jwt", r"\bey[A-Za-z0-9_-]{15,}\.ey[A-Za-z0-9_/\\-]{15,}\.(?:[A-Za-z0-9_/\\-]{8,}={0,2})?"),
    _v("jwt", r"\bZXlK[A-Za-z0-9+/_\\-]{30,}={0,2}", min_entropy=3.0),
    _v("age-secret-key", r"AGE-SECRET-KEY-1[0-9A-Z]{58}"),
    _v(
        "1password-token",
        r"\bA3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}\b",
    ),
    _v("1password-token", r"\bops_eyJ[A-Za-z0-9+/]{100,}={0,3}"),
    _v("azure-client-secret", r"(?<![A-Za-z0-9_~.])[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}"),
    _v("azure-storage-key", r"AccountKey=[A-Za-z0-9+/]{86}==", caseless=True),
    _v("azure-sas", r"[?&]sig=[A-Za-z0-9%+/]{30,}={0,2}"),
    _v("alibaba-key", r"\bLTAI[A-Za-z0-9]{20}\b"),
    _v("digitalocean-token", r"\bdo[opr]_v1_[a-fA-F0-9]{64}"),
    _v("databricks-token", r"\bdapi[a-fA-F0-9]{32}(?:-\d)?"),
    _v("npm-token", r"\bnpm_[A-Za-z0-9]{36}"),
    _v("pypi-token", r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"),
    _v("rubygems-token", r"\brubygems_[a-fA-F0-9]{48}"),
    _v("shopify-token", r"\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"),
    _v("twilio-key", r"\bSK[0-9a-fA-F]{32}\b", min_entropy=3.0),
    _v("sendgrid-key", r"\bSG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_=-]{30,50}"),
    _v("sendgrid-key", r"\bSG\.[A-Za-z0-9=_.-]{66}"),
    _v("brevo-key", r"\bxkeysib-[a-fA-F0-9]{64}-[A-Za-z0-9]{16}"),
    _v("mailgun-key", r"\b(?:key|pubkey)-[a-fA-F0-9]{32}\b"),
    _v("mailchimp-key", r"\b[a-fA-F0-9]{32}-us\d{1,2}\b"),
    _v("vault-token", r"\bhv[sbr]\.[A-Za-z0-9_-]{24,}"),
    _v("vault-token", r"\bs\.[A-Za-z0-9]{24}\b", min_entropy=3.5),
    _v("terraform-token", r"\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}"),
    _v("huggingface-token", r"\b(?:hf_|api_org_)[A-Za-z]{34}\b"),
    _v("linear-key", r"\blin_api_[A-Za-z0-9]{40}"),
    _v("postman-key", r"\bPMAK-[A-Fa-f0-9]{24}-[A-Fa-f0-9]{34}"),
    _v("pulumi-token", r"\bpul-[a-fA-F0-9]{40}"),
    _v("prefect-token", r"\bpnu_[A-Za-z0-9]{36}"),
    _v("planetscale-token", r"\bpscale_(?:tkn|oauth|pw)_[A-Za-z0-9_=.-]{32,64}", caseless=True),
    _v("readme-token", r"\brdme_[a-z0-9]{70}"),
    _v("scalingo-token", r"\btk-us-[A-Za-z0-9_-]{48}"),
    _v("sentry-token", r"\bsntry[us]_[A-Za-z0-9+/=_]{40,}"),
    _v("settlemint-token", r"\bsm_(?:aat|pat|sat)_[A-Za-z0-9]{16}"),
    _v("grafana-token", r"\bglc_[A-Za-z0-9+/]{32,400}={0,3}"),
    _v("grafana-token", r"\bglsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),
    _v("grafana-token", r"\beyJrIjoi[A-Za-z0-9]{60,400}={0,3}", caseless=True),
    _v("frameio-token", r"\bfio-u-[A-Za-z0-9_=-]{64}"),
    _v("duffel-token", r"\bduffel_(?:test|live)_[A-Za-z0-9_=-]{43}"),
    _v("easypost-token", r"\bEZ[AT]K[A-Za-z0-9]{54}"),
    _v("flutterwave-key", r"\bFLW(?:SECK|PUBK)_TEST-[a-hA-H0-9]{12,32}(?:-X)?"),
    _v("clojars-token", r"\bCLOJARS_[A-Za-z0-9]{60}", caseless=True),
    _v("adobe-secret", r"\bp8e-[A-Za-z0-9]{32}"),
    _v("artifactory-token", r"\bAKCp[A-Za-z0-9]{69}\b"),
    _v("artifactory-token", r"\bcmVmd[A-Za-z0-9]{59}\b"),
    _v("airtable-token", r"\bpat[A-Za-z0-9]{14}\.[a-fA-F0-9]{64}\b"),
    _v(
        "authress-key",
        r"\b(?:sc|ext|scauth|authress)_[A-Za-z0-9]{5,30}\.[A-Za-z0-9]{4,6}\.acc[_-][A-Za-z0-9-]{10,32}\.[A-Za-z0-9+/_=-]{30,120}",
    ),
    _v("cloudflare-ca-key", r"\bv1\.0-[a-fA-F0-9]{24}-[a-fA-F0-9]{146}"),
    _v("clickhouse-key", r"\b4b1d[A-Za-z0-9]{38}\b"),
    _v("facebook-token", r"\bEAA[MC][A-Za-z0-9]{100,}"),
    _v("facebook-token", r"\b\d{15,16}(?:\||%)[0-9A-Za-z_-]{27,40}"),
    _v("flyio-token", r"\b(?:fo1_[A-Za-z0-9_-]{43}|fm[12][ar]?_[A-Za-z0-9+/]{100,}={0,3})"),
    _v("harness-token", r"\b(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}"),
    _v("heroku-token", r"\bHRKU-AA[A-Za-z0-9_-]{58}"),
    _v("infracost-token", r"\bico-[A-Za-z0-9]{32}"),
    _v("intra42-secret", r"\bs-s4t2(?:ud|af)-[A-Fa-f0-9]{64}"),
    _v("maxmind-key", r"\b[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk"),
    _v("notion-token", r"\bntn_\d{11}[A-Za-z0-9]{35}"),
    _v("octopus-key", r"\bAPI-[A-Z0-9]{26}\b"),
    _v("openshift-token", r"\bsha256~[A-Za-z0-9_-]{43}"),
    _v("perplexity-key", r"\bpplx-[A-Za-z0-9]{48}"),
    _v("square-token", r"\b(?:EAAA|sq0atp-|sq0csp-)[A-Za-z0-9_-]{22,60}"),
    _v("shippo-token", r"\bshippo_(?:live|test)_[a-fA-F0-9]{40}"),
    _v("sourcegraph-token", r"\bsgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}"),
    _v("newrelic-key", r"\bNR(?:AK|JS|II)-[A-Za-z0-9-]{19,32}"),
    _v("typeform-token", r"\btfp_[A-Za-z0-9_.=-]{59}"),
    _v("gocardless-token", r"\blive_[A-Za-z0-9_=-]{40}"),
    _v("lob-key", r"\b(?:live|test)_(?:pub_)?[a-fA-F0-9]{31,35}\b"),
    _v(
        "plaid-token",
        r"\baccess-(?:sandbox|development|production)-[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    ),
    _v("mapbox-token", r"\b[ps]k\.[A-Za-z0-9]{60,}\.[A-Za-z0-9_-]{20,}"),
    _v("dropbox-token", r"\bsl\.[A-Za-z0-9_=-]{130,}"),
    _v("dropbox-token", r"\b[A-Za-z0-9]{11}AAAAAAAAAA[A-Za-z0-9_=-]{43}"),
    _v("twitter-token", r"\bA{22}[A-Za-z0-9%]{80,100}"),
    _v("telegram-token", r"\b\d{5,16}:A[A-Za-z0-9_-]{34}\b"),
    _v("yandex-token", r"\bt1\.[A-Za-z0-9_-]+={0,2}\.[A-Za-z0-9_-]{86}={0,2}"),
    _v("yandex-key", r"\b(?:AQVN[A-Za-z0-9_-]{35,38}|YC[A-Za-z0-9_-]{38})\b"),
    _v("beamer-token", r"\bb_[A-Za-z0-9=_-]{44}" + _END),
    _v("defined-networking-token", r"\bdnkey-[A-Za-z0-9=_-]{26}-[A-Za-z0-9=_-]{52}"),
    _v("sumologic-id", r"\bsu[A-Za-z0-9]{12}\b(?=[\"'`]?[ \t]*$)"),
    _v("sonar-token", r"\bsq[upa]_[A-Za-z0-9]{40}\b"),
    _v("okta-token", r"\b00[A-Za-z0-9_=-]{40}\b(?=[\"'`;]?[ \t]*$)"),
    _v("doppler-token", r"\bdp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}"),
    _v("dynatrace-token", r"\bdt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}"),
    _v("contribsys-credentials", r"\b[a-fA-F0-9]{8}:[a-fA-F0-9]{8}(?=@(?:gems|enterprise)\.contribsys\.com)"),
]

# Words that make a name a credential's name, and the qualifiers that make it something else.
_KEY_WORD = r"(?<![A-Za-z])key(?![A-Za-z])"  # `key` alone, not `monkey` or `keyboard`
PASSWORD_WORDS = r"pass(?:wd|word|phrase|code)?|pwd"
SECRET_WORDS = (
    r"secret|token|api[_.-]?key|apikey|access[_.-]?key|private[_.-]?key|"
    r"client[_.-]?secret|auth|credential|creds|bearer|session[_.-]?(?:key|token|secret)|cookie|signature|"
    r"hmac|jwt|oauth|otp|license[_.-]?key|sas[_.-]?token|encryption[_.-]?key|signing[_.-]?key|"
    r"master[_.-]?key|root[_.-]?key|secret[_.-]?key|x[_.-]?api[_.-]?key|" + _KEY_WORD
)
# Services whose configuration names identify a credential even without a secret word.
SERVICE_WORDS = (
    r"adafruit|adobe|airtable|algolia|alibaba|aliyun|asana|atlassian|jira|confluence|beamer|bitbucket|"
    r"bittrex|binance|kraken|kucoin|coinbase|meraki|cloudflare|codecov|cohere|co_api|confluent|contentful|"
    r"datadog|discord|droneci|dropbox|etsy|facebook|fastly|finicity|finnhub|flickr|freshbooks|gitter|"
    r"gocardless|heroku|hubspot|intercom|jfrog|artifactory|bintray|xray|launchdarkly|linear|linked[_-]?in|"
    r"looker|mailchimp|mailgun|mapbox|mattermost|message[_-]?bird|netlify|new[_-]?relic|nytimes|newyorktimes|"
    r"new-york-times|okta|plaid|private[_-]?ai|rapidapi|sendbird|sentry|snyk|sonar|squarespace|sumo|"
    r"telegr|travis|twitch|twitter|typeform|yandex|zendesk|pagerduty|opsgenie|twilio|sendgrid|stripe|"
    r"paypal|braintree|shopify|openai|anthropic|huggingface|slack|github|gitlab|vault|consul|nomad|"
    r"terraform|pulumi|dockerhub|quay|jenkins|circleci|buildkite|digitalocean|linode|hetzner|vultr|"
    r"scaleway|proxmox|idrac|ilo|ipmi|bmc|redfish|vcenter|vsphere|splunk|elastic|influx|grafana|"
    r"bundle_enterprise__contribsys__com|bundle_gems__contribsys__com|mailchimpsdk\.initialize|dnkey"
)
_QUALIFIERS = re.compile(
    r"(?:^|[_.\- ])(?:url|uri|endpoint|host|hostname|port|path|file|dir|name|type|length|size|len|expiry|"
    r"expires?|expiration|ttl|timeout|count|policy|required|enabled|enable|method|format|header|field|prompt|"
    r"label|min|max|version|rotation|age|algorithm|alg|region|site|domain|channel|user|username|email|org|"
    r"team|workspace|env|level|mode|prefix|suffix|pattern|regex|hint|store|backend|provider|source|"
    r"scope|kind|class|status|state|ref|refs|changed|reset|rotate|hash|hashed|digest|sha\d*|md5|fingerprint|id|uuid|"
    r"method|methods|backend|mechanism|flow|plugin|module|server|service|expired|failed|failure|"
    # `auth` inside these is authorship, not authentication (Co-Authored-By: Claude).
    r"authored|author|authors|by)"
    r"s?(?=$|[_.\- ])",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(
    r"(?:\*+|x{3,}|\.{3,}|<[^>]*>|\$\{?[\w.-]*\}?|%\(?\w*\)?s?|\{\{.*\}\}|\{\w*\}|null|none|nil|true|false|"
    r"undefined|changeme|redacted|hidden|secret|password|passwd|token|example\w*|dummy|test|required|"
    r"optional|yes|no|on|off|n/a|tbd|todo|empty|default|unset|masked)\Z",
    re.IGNORECASE,
)
_WORDISH = re.compile(r"[a-z]+(?:[._:/-]+[a-z]+)*\Z")
_DOMAINISH = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\Z")
# 1.25.3, v2.48.0-rc1, 2024.11.3 (but not a long plain number: numeric client ids are secrets)
_VERSIONISH = re.compile(r"v?\d{1,8}(?:[._:-]\d+)*(?:[-+~][0-9A-Za-z.]{1,12})?\Z", re.IGNORECASE)
_NUMBERISH = re.compile(r"[0-9.:,_-]+[a-z]{0,3}\Z", re.IGNORECASE)
_SEP = r"(?::{1,3}=|[:=]{1,3}|=>|->|\?=|\|\|=?|,|>)"
_FILLER = frozenset(" \t\"'`=>")
_QUOTES = "\"'`"
_STOP = frozenset(" \t\r\n\"'`,;<>(){}[]\\")


def assigned_values(line: str, pos: int, reach: int = 7) -> Iterator[tuple[int, int, bool]]:
    """Candidate values after a separator: `"quoted"`, bare tokens, past stray quotes and `=`."""
    i = pos
    while i < len(line) and i - pos < reach:
        c = line[i]
        if c in _QUOTES:
            close = line.find(c, i + 1)
            if close > i + 1 and "\n" not in line[i + 1 : close]:
                yield i + 1, close, True
        elif c not in _FILLER:
            end = i
            while end < len(line) and end - i < 300 and line[end] not in _STOP:
                end += 1
            if end > i:
                yield i, end, False
            return
        i += 1


def _plausible(value: str, quoted: bool, strict: bool, min_len: int = 12, min_entropy: float = 2.5) -> bool:
    v = value.strip()
    if not v or v.startswith(REDACTED) or _PLACEHOLDER.match(v) or v.startswith(("$", "/", "./", "~/", "%")):
        return False
    if "://" in v:
        return False  # URLs: credentials inside them have their own rule
    if strict:
        # A value named after a service must look machine-made: long, with digits or mixed case,
        # and not a version, domain or word list.
        if len(v) < min_len or _WORDISH.match(v) or _VERSIONISH.match(v):
            return False
        if _DOMAINISH.match(v) and not any(c.isdigit() for c in v):
            return False
        has_digit = any(c.isdigit() for c in v)
        mixed = any(c.isupper() for c in v) and any(c.islower() for c in v)
        return (has_digit or mixed) and entropy(v) >= min_entropy
    if quoted:
        return len(v) >= 4 and entropy(v) >= 1.5
    if len(v) < 6 or _NUMBERISH.match(v) and not v.isdigit():
        return False
    if (v.isalpha() and v.islower() and len(v) <= 12) or _WORDISH.match(v):
        return False  # auth=enabled, password=required, secrets = pkg.main:entry
    return entropy(v) >= 2.0


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def _full_name(m: re.Match[str]) -> str:
    """The assigned name: the matched part from the keyword on, plus the identifier before it.

    Patterns start at the keyword (a leading `[\\w.-]{0,60}` makes Python's regex engine try 60
    lengths at every position); the rest of the name is recovered here.
    """
    line, start = m.string, m.start()
    i = start
    while i > 0 and start - i < 60 and line[i - 1] in _NAME_CHARS:
        i -= 1
    return line[i:start] + m.group("name")


def _name_guard(
    strict: bool, min_len: int, min_entropy: float, qualify: bool
) -> Callable[[str, bool, re.Match[str]], bool]:
    def guard(value: str, quoted: bool, m: re.Match[str]) -> bool:
        name = _CAMEL.sub("_", _full_name(m))  # apiVersion -> api_Version: qualifiers see `version`
        if qualify and _QUALIFIERS.search(name):
            return False
        if not quoted and _is_call(value, m):
            return False  # csrfToken = getToken(): code that computes a secret, not the secret
        return _plausible(value, quoted, strict, min_len, min_entropy)

    return guard


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_IDENT = re.compile(r"[A-Za-z_][\w.]*")


def _is_call(value: str, m: re.Match[str]) -> bool:
    """The value is an identifier directly followed by `(` in the text: a function call."""
    v = value.strip()
    if not _IDENT.fullmatch(v):
        return False
    at = m.string.find(v, m.end())
    return at >= 0 and m.string[at + len(v) : at + len(v) + 1] == "(" and at - m.end() <= 8
_EQ_SEP = r"(?:=|:{1,3}=|=>|\?=|\|\|)"


def _named(
    kind: str,
    words: str,
    strict: bool,
    bare_trigger: bool = False,
    min_len: int = 12,
    min_entropy: float = 2.5,
    qualify: bool = True,
) -> list[SecretRule]:
    """A rule for `<name containing a word> <separator> <value>`.

    The name is one identifier (`db_password: x`) or, with only `=`-like separators for weakly
    guarded words, several words (`db password = x`): `Failed password for root from ...: x` is a
    log message. The pattern starts at the word; `_full_name` recovers the rest of the name.
    """
    loose_sep = _SEP if strict else _EQ_SEP
    between = r"[ \t\"']{0,6}"
    pattern = (
        rf"(?P<name>(?:{words})(?:[\w.-]{{0,30}}(?={between}{_SEP})"
        rf"|[ \t\w.-]{{0,24}}(?={between}{loose_sep})))"
        rf"{between}(?:{_SEP}|{loose_sep})"
    )
    guard = _name_guard(strict, min_len, min_entropy, qualify)
    plain = words.replace(_KEY_WORD, "key")  # no lookarounds in the trigger: a superset
    # A long word list with repeats after it is too large for hyperscan: the words alone suffice.
    trigger = f"(?:{plain})" if bare_trigger else rf"(?:{plain})[ \t\w.-]{{0,30}}{between}{_SEP}"
    return [SecretRule(kind, pattern, 0, True, None, trigger, anchored=True, value_guard=guard)]


# Generic names: any identifier containing one of these, with a value that looks machine-made.
GENERIC_WORDS = r"access|auth|api|key|credential|creds|passw(?:or)?d|secret|token"


NAMED_RULES: list[SecretRule] = [
    SecretRule(
        "url-password",
        r"\b[a-z][a-z0-9+.-]{1,15}://[^\s:/@\"'<>]{0,64}:(?P<value>[^\s/@\"'<>]{1,128})@[\w.\[\]-]",
        "value",
        True,
        lambda s, m: not s.startswith(REDACTED) and not _PLACEHOLDER.match(s),
    ),
    SecretRule(
        "authorization",
        r"\b(?:proxy-)?authorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:(?:bearer|basic|token|"
        r"digest|negotiate|api-?key|sso-key|key|splunk|ssws|dsn)[ \t]+)?(?P<value>[A-Za-z0-9._~+/=:-]{8,})",
        "value",
        True,
        lambda s, m: not s.startswith(REDACTED) and entropy(s) >= 2.5,
    ),
    SecretRule(
        "api-header",
        r"\b(?:x-api-key|x-auth-token|x-access-token|private-token|x-vault-token|"
        r"x-goog-api-key|x-amz-security-token|api-key|apikey|x-api-token|x-shopify-access-token|"
        r"dd-api-key|dd-application-key)[\"']?[ \t]*:[ \t]*[\"']?(?P<value>[A-Za-z0-9._~+/=-]{8,})",
        "value",
        True,
        lambda s, m: not s.startswith(REDACTED) and entropy(s) >= 2.5,
    ),
    SecretRule(
        "bearer-token",
        r"\bbearer[ \t]+(?P<value>[A-Za-z0-9._~+/-]{16,}=*)",
        "value",
        True,
        lambda s, m: entropy(s) >= 3.0,
    ),
    SecretRule(
        "cli-password",
        r"(?:^|[ \t\"'])--?(?:password|passwd|pass|pwd|token|api[-_]?key|secret|"
        r"client[-_]?secret|auth[-_]?token|access[-_]?token|passphrase|bmc[-_]?password|"
        r"ipmi[-_]?password)(?:=|[ \t]+)[\"']?(?P<value>[^\s\"']{3,200})",
        "value",
        True,
        lambda s, m: not s.startswith(("-", REDACTED, "$")) and not _PLACEHOLDER.match(s),
    ),
    SecretRule(
        "bmc-password",
        r"\b(?:ipmitool|ipmiutil|racadm|ipmi-\w+|freeipmi|sshpass)\b[^\n]*?[ \t]-[Pp][ \t]*"
        r"(?P<value>[^\s\"'-][^\s\"']{0,127})",
        "value",
        False,
        lambda s, m: not s.startswith(REDACTED) and not s.isdigit(),
    ),
    SecretRule(
        "cli-password",
        r"\b(?:mysql|mariadb|mysqldump|mysqladmin)\b[^\n]*?[ \t]-p(?P<value>[^\s\"'-][^\s\"']{2,127})",
        "value",
        False,
        lambda s, m: not s.startswith(REDACTED),
    ),
    SecretRule(
        "cli-password",
        r"(?:^|[ \t\"'])(?:-u|--user)(?:=|[ \t]*)[\"']?[^\s:\"'-][^\s:\"']{0,63}[\"']?:"
        r"[\"']?(?P<value>[^\s\"']{2,128})",
        "value",
        True,
        lambda s, m: not s.startswith((REDACTED, "$")) and not _PLACEHOLDER.match(s) and not s.isdigit(),
    ),
    SecretRule(
        "xml-secret",
        r"<(?P<tag>[\w:.-]*(?:password|passwd|secret|token|apikey|api_key)[\w:.-]*)>"
        r"(?P<value>[^<\n]{3,300})</(?P=tag)>",
        "value",
        True,
        lambda s, m: not _PLACEHOLDER.match(s.strip()) and not s.startswith(REDACTED),
    ),
    SecretRule(
        "config-password",
        r"\bkey=[\"'][\w.-]*(?:password|secret|token|apikey)[\w.-]*[\"'][ \t]*value="
        r"[\"'](?P<value>[^\n]{3,300}?)[\"'][ \t]*/?>",
        "value",
        True,
        lambda s, m: not _PLACEHOLDER.match(s) and not s.startswith(REDACTED),
    ),
    *_named("password", PASSWORD_WORDS, strict=False),
    *_named("secret", SECRET_WORDS, strict=False),
    # Vendor rules flag client ids too: a service name keeps `_id` values.
    *_named("service-credential", SERVICE_WORDS, strict=True, bare_trigger=True, qualify=False),
    *_named("secret", GENERIC_WORDS, strict=True, min_len=16, min_entropy=3.3),
    SecretRule(
        "k8s-secret",
        r"\bkind:[ \t]*[\"']?secret\b.{0,200}?\bdata:.{0,100}?[ \t][\w.-]+:[ \t]*"
        r"(?:[|>][-+]?[ \t]+)?[\"']?(?P<value>[A-Za-z0-9+/]{10,}={0,3})",
        "value",
        True,
        lambda s, m: entropy(s) >= 2.5,
    ),
    SecretRule(
        "k8s-secret",
        r"\bdata:.{0,100}?[ \t][\w.-]+:[ \t]*(?:[|>][-+]?[ \t]+)?[\"']?(?P<value>[A-Za-z0-9+/]{10,}={0,3})"
        r"(?=.{0,200}?\bkind:[ \t]*[\"']?secret\b)",
        "value",
        True,
        lambda s, m: entropy(s) >= 2.5,
    ),
]

PRIVATE_KEY_BEGIN = re.compile(
    r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----", re.IGNORECASE | re.ASCII
)
PRIVATE_KEY_END = re.compile(r"-----END[ A-Z0-9_-]{0,100}-----|KEY(?: BLOCK)?-----", re.IGNORECASE | re.ASCII)
