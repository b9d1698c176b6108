"""The sources of the notebooks that teach the API itself (12-16), for build_notebooks.py.

They run on the in-process simulator like the others, and print only what is the
same on every run: nonces and signatures made from the wall clock go into HTML
outputs (which nbval does not compare) or into comparisons that print True.
"""

from __future__ import annotations

import nbformat

md = nbformat.v4.new_markdown_cell
code = nbformat.v4.new_code_cell

SOURCES: dict[str, list[nbformat.NotebookNode]] = {
    "12-the-wire": [
        md(
            "# 12 · The wire: what a request and an answer really are\n\n"
            "Notebooks 01 to 08 hide the API behind frames and charts. This one and the next four "
            "take the cover off: what goes over the wire, what the exchange answers, why it "
            "refuses, and how to read every request kfresearch makes on your behalf with "
            "`kf.trace()`.\n\n"
            "The Kraken Futures REST API lives under `https://futures.kraken.com/derivatives/api/v3` "
            "(the `/derivatives` is part of the URL: a tutorial that says `…/api/v3` is wrong). "
            "Here the simulator answers in place of the exchange: same paths, same answers, no "
            "network."
        ),
        md(
            "## A public request with nothing but httpx\n\n"
            "A public endpoint needs no key: a plain `GET`. `SimTransport` hands httpx's request to "
            "the simulator instead of the network; against the exchange you would leave it out. "
            "This notebook is about the v3 wire, so the client asks for `protocol=\"v3\"`: from "
            "2027-03-01 the default is the Unified WebSocket (notebook 11 shows that protocol)."
        ),
        code(
            "import json\n\n"
            "import httpx\n\n"
            "import kfresearch\n"
            "from kfresearch.sim.transport import SimTransport\n\n"
            "kf = kfresearch.connect(\"sim\", protocol=\"v3\")\n"
            "http = httpx.Client(base_url=\"https://futures.kraken.com\", transport=SimTransport(kf.sim))\n\n"
            "answer = http.get(\"/derivatives/api/v3/tickers/PF_XBTUSD\")\n"
            "print(answer.status_code, answer.headers[\"content-type\"])\n"
            "print(json.dumps(answer.json(), indent=1))"
        ),
        md(
            "Three things to notice in every answer:\n\n"
            "* **The envelope.** `result` is `\"success\"` or `\"error\"`, `serverTime` is the "
            "exchange's clock (ISO 8601, UTC, milliseconds), and the payload sits under a key of "
            "its own (`ticker` here, `tickers`, `openPositions`, `sendStatus` … elsewhere).\n"
            "* **Decimals are strings** (`\"86223\"`, `\"0.3761\"`): the exchange does not trust "
            "JSON floats with prices. Some fields are plain JSON numbers or booleans, so a client "
            "converts field by field. kfresearch does it once, into float64 columns.\n"
            "* **Times come in two forms**: ISO strings (`lastTime`, `serverTime`) here, epoch "
            "milliseconds in other answers (history, charts, the WebSocket). kfresearch turns both "
            "into UTC timestamps."
        ),
        code(
            "ticker = answer.json()[\"ticker\"]\n"
            "{name: type(ticker[name]).__name__ for name in (\"bid\", \"bidSize\", \"suspended\", \"lastTime\")}"
        ),
        md(
            "## A private request without a signature\n\n"
            "`/accounts` is private. Sent without a key it is refused, and notice how: **HTTP 200**, "
            "with the error inside the envelope. On the v3 API the HTTP status says the request "
            "reached the exchange; only `result` says whether it worked."
        ),
        code(
            "refused = http.get(\"/derivatives/api/v3/accounts\")\n"
            "refused.status_code, refused.json()"
        ),
        md(
            "The simulator also says *why*, in one header the exchange never sends (`X-Sim-Why`); "
            "notebook 13 signs the request properly."
        ),
        code("refused.headers[\"x-sim-why\"]"),
        md(
            "## The same through kfresearch, with the wire in view\n\n"
            "`with kf.trace() as t:` records every request the block makes: the request as sent "
            "(headers with the key shortened, the signature shown, the secret never: it is not on "
            "the wire), the answer, the rate-limit cost, and how long it took. One call of "
            "kfresearch can be several requests, and the trace shows them all: placing an order "
            "first reads the instrument's rules and the fee schedule (once per client) so it can "
            "check the order before sending it."
        ),
        code(
            "with kf.trace() as t:\n"
            "    kf.tickers()\n"
            "    kf.accounts()\n"
            "    kf.place_order(\"PF_XBTUSD\", \"buy\", 0.001, limit_price=50_000, client_order_id=\"nb12-1\")\n"
            "t"
        ),
        code("t.frame()[[\"method\", \"path\", \"query\", \"signed\", \"status\", \"result\", \"pool\", \"cost\"]]"),
        md(
            "Public requests are free; private ones draw on a rate-limit **pool** (notebook 14). "
            "`t[i]` shows one request and its answer side by side in JupyterLab (the key "
            "shortened, the `Nonce` and `Authent` headers as sent):"
        ),
        code("order = t.http[-1]\norder"),
        code("order.method, order.path, order.request_body"),
        code("order.answer[\"sendStatus\"][\"status\"], order.answer[\"sendStatus\"][\"cliOrdId\"]"),
        md(
            "A POST sends its arguments as a form body (`application/x-www-form-urlencoded`), a "
            "GET in the query string. Both are what the signature covers: notebook 13.\n\n"
            "`curl()` gives any traced request as a shell command. A signed request cannot be "
            "replayed as it was (its nonce is spent), so the command signs it again in the shell "
            "with `openssl`, reading the key pair from two variables: the secret never appears."
        ),
        code("print(t.http[0].curl())"),
        code("print(order.curl().replace(kf.env.base_url, \"https://futures.kraken.com\"))"),
        md(
            "## The exchange's side of the same requests\n\n"
            "The simulator keeps a log of what it received (`kf.sim.request_log`): the trace and "
            "the log agree request for request, which is how the test suite checks that a trace "
            "misses nothing."
        ),
        code(
            "seen = list(kf.sim.request_log)[-len(t):]\n"
            "[(r.method, r.target.split(\"?\")[0]) for r in seen] == [(x.method, x.path) for x in t.http]"
        ),
        md(
            "Next: **13** builds the signature by hand, **14** the errors and rate limits, **15** "
            "the contract maths, **16** the WebSocket by hand."
        ),
    ],
    "13-authentication": [
        md(
            "# 13 · Authentication: the signature by hand\n\n"
            "A private request carries three headers (reference §2.1):\n\n"
            "| header | value |\n|---|---|\n"
            "| `APIKey` | the public key |\n"
            "| `Nonce` | an increasing integer (optional) |\n"
            "| `Authent` | the signature |\n\n"
            "and the signature is (reference §2.2):\n\n"
            "```\n"
            "endpointPath = the path with a leading /derivatives removed\n"
            "message      = postData + nonce + endpointPath\n"
            "Authent      = base64( HMAC-SHA-512( base64decode(secret), SHA-256(message) ) )\n"
            "```\n\n"
            "`postData` is the query string and the form body exactly as sent. Let us build it."
        ),
        md(
            "## Each step, on the reference's own test vector\n\n"
            "`kfresearch.auth.explain` shows every intermediate value. This is vector K1 of the "
            "reference (a test secret from python-kraken-sdk's unit tests, not a real key):"
        ),
        code(
            "import pandas as pd\n\n"
            "from kfresearch.auth import explain\n\n"
            "pd.set_option(\"display.max_colwidth\", 70)\n"
            "pd.set_option(\"display.width\", 200)\n"
            "steps = explain(\"/derivatives/api/v3/sendorder\", \"1616492376594\", \"orderType=lmt&symbol=PI_XBTUSD\",\n"
            "                \"cHl0aG9uLWtyYWtlbi1zZGsgdW5pdC10ZXN0IHNlY3JldCB2YWx1ZQ==\")\n"
            "steps.steps"
        ),
        md(
            "Two details catch most people: the SHA-256 digest goes into the HMAC as its **32 raw "
            "bytes**, not as hex text; and the HMAC key is the **decoded** secret (40 bytes here), "
            "not its base64 text. `steps.variants` signs the same request the usual wrong ways "
            "and says what the exchange answers to each:"
        ),
        code("steps.variants[[\"header\", \"mistake\", \"status\", \"answer\"]]"),
        md(
            "## By hand, against the exchange\n\n"
            "Now the five steps with nothing but the standard library, for a real request to the "
            "simulator. `kf.sim.credentials()` is the simulator's own key pair; for the exchange "
            "you would read yours from the environment (never paste a secret into a notebook). "
            "The `Authent` signature is the v3 wire's, so the client asks for `protocol=\"v3\"`: "
            "from 2027-03-01 the default is the Unified WebSocket, signed the spot way (notebook 11)."
        ),
        code(
            "import base64\nimport hashlib\nimport hmac\nimport time\n\n"
            "import httpx\n\n"
            "import kfresearch\n"
            "from kfresearch.sim.transport import SimTransport\n\n"
            "kf = kfresearch.connect(\"sim\", protocol=\"v3\")\n"
            "creds = kf.sim.credentials(\"full\")\n"
            "api_key, api_secret = creds.key, creds.secret.reveal()   # only in memory, never printed\n"
            "http = httpx.Client(base_url=\"https://futures.kraken.com\", transport=SimTransport(kf.sim))\n\n\n"
            "def sign(post_data: str, nonce: str, path: str) -> str:\n"
            "    endpoint_path = path.removeprefix(\"/derivatives\")\n"
            "    digest = hashlib.sha256((post_data + nonce + endpoint_path).encode()).digest()\n"
            "    mac = hmac.new(base64.b64decode(api_secret), digest, hashlib.sha512).digest()\n"
            "    return base64.b64encode(mac).decode()\n\n\n"
            "def nonce() -> str:\n"
            "    return str(time.time_ns() // 1000)   # epoch microseconds: always increasing\n\n\n"
            "path = \"/derivatives/api/v3/openpositions\"\n"
            "n = nonce()\n"
            "answer = http.get(path, headers={\"APIKey\": api_key, \"Nonce\": n, \"Authent\": sign(\"\", n, path)})\n"
            "answer.status_code, answer.json()[\"result\"]"
        ),
        md(
            "A POST signs its form body. The body must be sent byte for byte as it was signed "
            "(here `urlencode` builds it once and the same string goes out):"
        ),
        code(
            "from urllib.parse import urlencode\n\n"
            "path = \"/derivatives/api/v3/sendorder\"\n"
            "body = urlencode({\"orderType\": \"lmt\", \"symbol\": \"PF_XBTUSD\", \"side\": \"buy\", \"size\": \"0.001\",\n"
            "                  \"limitPrice\": \"50000\", \"cliOrdId\": \"nb13-by-hand\"})\n"
            "n = nonce()\n"
            "answer = http.post(path, content=body, headers={\n"
            "    \"APIKey\": api_key, \"Nonce\": n, \"Authent\": sign(body, n, path),\n"
            "    \"Content-Type\": \"application/x-www-form-urlencoded\"})\n"
            "answer.json()[\"sendStatus\"][\"status\"]"
        ),
        md(
            "## Does kfresearch sign the same way?\n\n"
            "Trace a call and sign its `postData` and `Nonce` with the function above: the "
            "`Authent` it sent is the one we compute."
        ),
        code(
            "with kf.trace() as t:\n"
            "    kf.open_orders()\n"
            "sent = t.http[-1]\n"
            "sent.header(\"Authent\") == sign(sent.post_data, sent.header(\"Nonce\"), sent.path)"
        ),
        md(
            "## The popular tutorial's version, and what it gets\n\n"
            "The tutorial many people start from signs with HMAC-SHA256 over `nonce + path + body`, "
            "sends it in a header called `Authentification`, and asks for `/api/v3/positions` "
            "(reference §8). Each of those is wrong; here is its request, and the answers:"
        ),
        code(
            "def tutorial_sign(nonce: str, path: str, body: str) -> str:\n"
            "    mac = hmac.new(base64.b64decode(api_secret), (nonce + path + body).encode(), hashlib.sha256)\n"
            "    return base64.b64encode(mac.digest()).decode()\n\n\n"
            "def tried(method: str, path: str, headers: dict[str, str], body: str = \"\") -> dict[str, object]:\n"
            "    answer = http.request(method, path, headers=headers, content=body)\n"
            "    return {\"path\": path, \"status\": answer.status_code, \"error\": answer.json().get(\"error\"),\n"
            "            \"why (simulator only)\": answer.headers.get(\"x-sim-why\", \"\")}\n\n\n"
            "rows = []\n"
            "n = nonce()\n"
            "rows.append(tried(\"GET\", \"/api/v3/positions\",   # the tutorial's path\n"
            "                  {\"APIKey\": api_key, \"Nonce\": n, \"Authentification\": tutorial_sign(n, \"/api/v3/positions\", \"\")}))\n"
            "n = nonce()\n"
            "rows.append(tried(\"GET\", \"/derivatives/api/v3/openpositions\",   # the right path, the tutorial's signature\n"
            "                  {\"APIKey\": api_key, \"Nonce\": n,\n"
            "                   \"Authentification\": tutorial_sign(n, \"/api/v3/openpositions\", \"\")}))\n"
            "n = nonce()\n"
            "rows.append(tried(\"GET\", \"/derivatives/api/v3/openpositions\",   # ... in the right header\n"
            "                  {\"APIKey\": api_key, \"Nonce\": n, \"Authent\": tutorial_sign(n, \"/api/v3/openpositions\", \"\")}))\n"
            "rows.append(tried(\"GET\", \"/derivatives/api/v3/tickers/f_xbtusd_240628\", {}))   # the tutorial's symbol\n"
            "pd.DataFrame(rows)"
        ),
        md(
            "The exchange says only `authenticationError` (with HTTP **200**) or `notFound`; it "
            "never says which part was wrong. The last column is the simulator's diagnosis, there "
            "to help you learn: the real exchange sends nothing like it. (Symbols are read in any "
            "case, `pf_xbtusd` works; `f_xbtusd_240628` just names no contract: a dated inverse "
            "future is `FI_XBTUSD_YYMMDD`.)"
        ),
        md(
            "## Nonces: why they must increase\n\n"
            "A signed request could be captured and sent again by someone else. The nonce stops "
            "that: the exchange remembers the recent nonces of each key and refuses one it has "
            "seen (`nonceDuplicate`) or one below the window it keeps (`nonceBelowThreshold`). "
            "It tolerates nonces out of order \"for a brief period\" (reference §2.5): the "
            "simulator keeps the last 50 of each key, and refuses a nonce below all of them. "
            "The nonce is optional (without a `Nonce` header the exchange hashes an empty "
            "string), but a client that sends one must keep it increasing: one clock, one unit. "
            "kfresearch uses epoch microseconds, bumped by one when two requests share a "
            "microsecond, for every client of a key in the process."
        ),
        code(
            "path = \"/derivatives/api/v3/openpositions\"\n\n\n"
            "def with_nonce(n: str) -> str:\n"
            "    answer = http.get(path, headers={\"APIKey\": api_key, \"Nonce\": n, \"Authent\": sign(\"\", n, path)})\n"
            "    return answer.json().get(\"error\", answer.json()[\"result\"])\n\n\n"
            "n = nonce()\n"
            "seen = {\"a fresh nonce\": with_nonce(n), \"the same again\": with_nonce(n)}\n"
            "answers = {with_nonce(nonce()) for _ in range(50)}   # fifty more, all fresh\n"
            "seen |= {\"fifty fresh ones\": \", \".join(answers), \"one from 2021\": with_nonce(\"1616492376594000\"),\n"
            "         \"no nonce at all\": with_nonce(\"\")}\n"
            "seen"
        ),
        md(
            "Replaying the very same signed request (same nonce, same signature) is refused the "
            "same way, which is why `curl()` in notebook 12 signs afresh. And kfresearch never "
            "runs into these: each attempt of a request, retries included, is signed again with "
            "a new nonce."
        ),
    ],
    "14-errors-and-rate-limits": [
        md(
            "# 14 · Errors and rate limits\n\n"
            "The exchange reports a problem in one of three places (reference §5), and a client "
            "has to look in all three:\n\n"
            "| where | example | meaning |\n|---|---|---|\n"
            "| the HTTP status | `404` on `tickers/PF_NOPE`, `429` on history | the request did not get "
            "to an answer |\n"
            "| `\"result\": \"error\"` in a **200** | `authenticationError`, `apiLimitExceeded` | the "
            "exchange read the request and refused it |\n"
            "| an order `status` in a **success** | `postWouldExecute`, `insufficientAvailableFunds` "
            "| the request worked; the order was rejected |\n\n"
            "kfresearch turns all three into exceptions of one tree (`kfresearch.KFError`), each "
            "with the exchange's own error text and a hint."
        ),
        code(
            "import pandas as pd\n\n"
            "import kfresearch\n"
            "from kfresearch.sim.transport import SimTransport\n\n"
            "pd.set_option(\"display.width\", 120)\n"
            "kf = kfresearch.connect(\"sim\")\n\n\n"
            "def outcome(call):\n"
            "    try:\n"
            "        call()\n"
            "    except kfresearch.KFError as error:\n"
            "        return {\"exception\": type(error).__name__, \"exchange says\": getattr(error, \"error\", \"\"),\n"
            "                \"HTTP\": getattr(error, \"status_code\", \"\"),\n"
            "                \"order status\": getattr(error, \"status\", \"\")}\n"
            "    return {\"exception\": \"none\"}\n\n\n"
            "bid = kf.tickers().loc[\"PF_XBTUSD\", \"bid\"]\n"
            "stranger = kfresearch.Client(\"sim\", exchange=kf.sim, key=\"not-a-key\", secret=\"c2VjcmV0c2VjcmV0\")\n"
            "cases = {\n"
            "    \"unknown symbol (HTTP 404)\": lambda: kf.request(\"GET\", \"/derivatives/api/v3/tickers/PF_NOPE\"),\n"
            "    \"unknown key (200, result error)\": lambda: stranger.accounts(),\n"
            "    \"argument missing (200, result error)\": lambda: kf.request(\n"
            "        \"POST\", \"/derivatives/api/v3/sendorder\", {\"orderType\": \"lmt\", \"symbol\": \"PF_XBTUSD\"}, private=True),\n"
            "    \"post-only would trade (success, order status)\": lambda: kf.place_order(\n"
            "        \"PF_XBTUSD\", \"sell\", 0.001, limit_price=bid, post_only=True),\n"
            "    \"caught before sending\": lambda: kf.place_order(\"PF_XBTUSD\", \"buy\", 0.00001, limit_price=50_000),\n"
            "}\n"
            "pd.DataFrame({name: outcome(call) for name, call in cases.items()}).T"
        ),
        md(
            "The last line never reached the exchange: kfresearch knows the contract's size "
            "step (0.0001 XBT) and says so as a `ValidationError`, with nothing sent. The "
            "message of each exception says what to do next:"
        ),
        code(
            "try:\n"
            "    stranger.accounts()\n"
            "except kfresearch.AuthenticationError as error:\n"
            "    print(error)"
        ),
        md(
            "What to do with each:\n\n"
            "| error | what to do |\n|---|---|\n"
            "| `authenticationError` | check the key pair (a **Futures** key, not Spot), its permissions, the "
            "signature (notebook 13) |\n"
            "| `nonceBelowThreshold`, `nonceDuplicate` | one increasing nonce per key: two programs sharing "
            "a key must not use two clocks |\n"
            "| `apiLimitExceeded`, HTTP 429 | slow down: below |\n"
            "| `requiredArgumentMissing`, `invalidArgument` | fix the request; retrying the same one never helps |\n"
            "| `notFound` | the path or the symbol (`kf.instruments()` lists the symbols) |\n"
            "| an order status | read it: `postWouldExecute`, `insufficientAvailableFunds`, "
            "`iocWouldNotExecute`, … are answers, not failures |\n"
            "| HTTP 5xx, a dropped connection | retry a read; for an order, find out what happened first (below) |"
        ),
        md(
            "## Why a blind retry of `sendorder` duplicates orders\n\n"
            "A request can fail *after* the exchange acted on it: the order is placed, then the "
            "connection drops before the answer arrives. The client cannot tell this from a "
            "request that never arrived. Retrying a read is harmless; retrying an order places "
            "it twice. The simulator can drop the connection after processing "
            "(`Fault(\"drop_after\")`); here is a script that retries blindly:"
        ),
        code(
            "import httpx\n\n"
            "from kfresearch.auth import KrakenAuth\n"
            "from kfresearch.sim.faults import Fault\n\n"
            "creds = kf.sim.credentials(\"full\")\n"
            "http = httpx.Client(base_url=\"https://futures.kraken.com\", transport=SimTransport(kf.sim),\n"
            "                    auth=KrakenAuth(creds))   # signs like notebook 13\n"
            "order = {\"orderType\": \"lmt\", \"symbol\": \"PF_XBTUSD\", \"side\": \"buy\", \"size\": \"0.001\", \"limitPrice\": \"40000\"}\n\n"
            "kf.sim.add_fault(Fault(\"drop_after\", path=\"/sendorder\", count=1))\n"
            "for attempt in (1, 2):\n"
            "    try:\n"
            "        answer = http.post(\"/derivatives/api/v3/sendorder\", data=order)\n"
            "        print(attempt, answer.json()[\"sendStatus\"][\"status\"])\n"
            "        break\n"
            "    except httpx.TransportError as error:\n"
            "        print(attempt, type(error).__name__, \"-> retrying\")\n"
            "open_orders = kf.open_orders()\n"
            "len(open_orders[open_orders.limit_price == 40_000])"
        ),
        md(
            "Two orders where one was meant. The cure is a **client order id** (`cliOrdId`): "
            "the exchange refuses a second order with an id it has seen "
            "(`clientOrderIdAlreadyExist`), and the order can be looked up by it "
            "(`orders/status`). kfresearch gives every order one (or takes yours), never re-sends "
            "an order whose outcome is unknown, and looks it up instead:"
        ),
        code(
            "kf.sim.add_fault(Fault(\"drop_after\", path=\"/sendorder\", count=1))\n"
            "with kf.trace() as t:\n"
            "    result = kf.place_order(\"PF_XBTUSD\", \"buy\", 0.001, limit_price=41_000, client_order_id=\"nb14-once\")\n"
            "print(result.status, result.resolved)\n"
            "t.frame()[[\"method\", \"path\", \"status\", \"error\"]]"
        ),
        code(
            "open_orders = kf.open_orders()\n"
            "len(open_orders[open_orders.limit_price == 41_000])"
        ),
        md(
            "The `sendorder` got no answer (`ReadTimeout`, no status); the lookup by "
            "`cliOrdId` found the order placed, and there is exactly one. Had the lookup found "
            "nothing, the same order with the same id would go again: safe, since the exchange "
            "refuses a repeated id."
        ),
        md(
            "## Rate limits: a pool that drains and refills\n\n"
            "Private `/derivatives` requests are not limited per second: each has a **cost** "
            "(`sendorder` 10, `accounts` 2, `cancelallorders` 25, …) drawn from a pool of 500 "
            "units that refills continuously at 50 a second (reference §6). `/api/history` has "
            "its own pool: 100 units, refilled over 10 minutes. Public requests cost nothing.\n\n"
            "To watch it drain, here is a client that ignores the pool (no limiter, no retry), "
            "sending `cancel_all` (cost 25) ten times a second to a simulator whose rate clock "
            "we move by hand: 250 units a second out, 50 in."
        ),
        code(
            "from kfresearch.client import RetryPolicy\n"
            "from kfresearch.ratelimit import RateLimiter, TokenBucket\n"
            "from kfresearch.sim.clock import SimClock\n"
            "from kfresearch.sim.exchange import SimExchange\n\n"
            "now = 0.0   # seconds on the exchange's rate clock\n\n\n"
            "def rate_clock() -> float:\n"
            "    return now\n\n\n"
            "exchange = SimExchange(seed=42, clock=SimClock.fixed(\"2026-11-01T00:00:00Z\"), rate_clock=rate_clock)\n"
            "naive = kfresearch.Client(\"sim\", exchange=exchange, limiter=RateLimiter.unlimited(),\n"
            "                          retry=RetryPolicy(max_attempts=1))\n"
            "pool = TokenBucket(500, 50, clock=rate_clock)   # the reference's rule, to draw the level\n\n"
            "rows = []\n"
            "for step in range(60):\n"
            "    now = step * 0.1 if step < 40 else 4.0 + (step - 40) * 1.0   # a burst, then one a second\n"
            "    before = pool.available\n"
            "    try:\n"
            "        naive.cancel_all()\n"
            "        answer = \"ok\"\n"
            "        pool.reserve(25)\n"
            "    except kfresearch.RateLimitError as error:\n"
            "        answer = error.error\n"
            "    rows.append({\"t_s\": now, \"pool_before\": before, \"answer\": answer})\n"
            "burst = pd.DataFrame(rows)\n"
            "burst.answer.value_counts()"
        ),
        code("burst.loc[burst.answer != burst.answer.shift(), [\"t_s\", \"pool_before\", \"answer\"]]"),
        code(
            "import plotly.graph_objects as go\n\n"
            "refused = burst[burst.answer != \"ok\"]\n"
            "fig = go.Figure([\n"
            "    go.Scatter(x=burst.t_s, y=burst.pool_before, mode=\"lines+markers\", name=\"units left\",\n"
            "               line_shape=\"hv\"),\n"
            "    go.Scatter(x=refused.t_s, y=refused.pool_before, mode=\"markers\", name=\"apiLimitExceeded\",\n"
            "               marker={\"color\": \"crimson\", \"size\": 9, \"symbol\": \"x\"}),\n"
            "])\n"
            "fig.update_layout(title=\"The derivatives pool: 10 requests/s of cost 25, then 1/s\",\n"
            "                  xaxis_title=\"seconds\", yaxis_title=\"units (of 500)\", height=350)\n"
            "fig"
        ),
        md(
            "The first 24 go through (the full pool plus what refilled meanwhile), then only one "
            "in five: the refill, 50 units a second, pays for one request of 25 every half second. "
            "Once the sender slows to one a second the pool fills back up. A refused request cost nothing, but it did nothing "
            "either.\n\n"
            "kfresearch keeps the same model of the pool on the client side and waits *before* "
            "sending when a request would overdraw it, so it is never refused. The trace shows "
            "the client's view: the cost, the level before and after, and the seconds waited.\n\n"
            "Against the exchange both sides keep time by the wall clock. Here the client and the "
            "simulator share the hand-moved rate clock from above, and the client's waits move it "
            "(it still sleeps them for real: this cell takes about two seconds), so the run is the "
            "same every time, however busy the machine: 20 requests empty the pool, then each of "
            "the last four waits the half second that refills 25 units."
        ),
        code(
            "class HandPaced(RateLimiter):\n"
            "    \"\"\"The client's pools on the hand-moved rate clock: waiting moves it, as time would.\"\"\"\n\n"
            "    def reserve(self, pool: str | None, cost: float) -> float:\n"
            "        global now\n"
            "        wait = super().reserve(pool, cost)\n"
            "        now += wait\n"
            "        return wait\n\n\n"
            "now += 60.0   # a minute later: the simulator's pool is full again\n"
            "paced = kfresearch.Client(\"sim\", exchange=exchange, limiter=HandPaced(clock=rate_clock))\n"
            "with paced.trace() as t:\n"
            "    for _ in range(24):   # 24 x 25 = 600 units: more than the 500 in the pool\n"
            "        paced.cancel_all()\n"
            "frame = t.frame()\n"
            "{\"refused\": int(frame.error.notna().sum()), \"units\": float(frame.cost.sum()),\n"
            " \"seconds waited\": float(frame.waited_s.sum())}"
        ),
        code(
            "fig = go.Figure(go.Scatter(x=frame.index, y=frame.pool_after, mode=\"lines+markers\", name=\"units left\"))\n"
            "fig.add_bar(x=frame.index, y=frame.waited_s * 100, name=\"waited (s x 100)\")\n"
            "fig.update_layout(title=\"kfresearch paces itself: it waits instead of being refused\",\n"
            "                  xaxis_title=\"request\", height=350)\n"
            "fig"
        ),
    ],
    "15-contracts-and-margin": [
        md(
            "# 15 · Contracts, P&L, margin and funding, worked by hand\n\n"
            "Every number an account frame shows follows from a few rules (reference §7). This "
            "notebook works them out with a pencil (well, pandas) and checks each one against "
            "what the exchange reports.\n\n"
            "## What a symbol says\n\n"
            "| prefix | contract | P&L and margin in |\n|---|---|---|\n"
            "| `PF_` | perpetual, linear (\"multi-collateral\"): 1 contract = 1 unit of the base | USD |\n"
            "| `FF_` | the same with an expiry (`FF_XBTUSD_261225`) | USD |\n"
            "| `PI_` | perpetual, inverse: 1 contract = 1 USD | the base coin (XBT) |\n"
            "| `FI_` | the same with an expiry (`FI_XBTUSD_261225`) | the base coin |\n\n"
            "Bitcoin is `XBT` on this API. The fees below come from the v3 API's fee schedules, "
            "which the Unified WebSocket does not carry, so the client asks for "
            "`protocol=\"v3\"` (from 2027-03-01 the default is UWS: notebook 11)."
        ),
        code(
            "import numpy as np\n"
            "import pandas as pd\n\n"
            "import kfresearch\n\n"
            "pd.set_option(\"display.width\", 160)\n"
            "kf = kfresearch.connect(\"sim\", protocol=\"v3\")\n"
            "instruments = kf.instruments()\n"
            "instruments.loc[[\"PF_XBTUSD\", \"PI_XBTUSD\", \"PF_ETHUSD\"],\n"
            "                [\"type\", \"tick_size\", \"contract_size\", \"contract_value_trade_precision\", \"max_position_size\"]]"
        ),
        md(
            "`tick_size` is the price step; `contract_value_trade_precision` the number of "
            "decimals a size may have (4 for PF_XBTUSD: 0.0001 XBT, 0 for PI_XBTUSD: whole "
            "dollars). kfresearch checks both before sending, so a price off the grid never "
            "reaches the exchange:"
        ),
        code(
            "try:\n"
            "    kf.place_order(\"PF_XBTUSD\", \"buy\", 0.01, limit_price=80_000.5)\n"
            "except kfresearch.ValidationError as error:\n"
            "    print(error)"
        ),
        md(
            "## Linear and inverse P&L\n\n"
            "Buy 0.01 XBT of the linear perpetual and 1,000 USD of the inverse one, let an hour "
            "pass, and look at the positions:"
        ),
        code(
            "kf.place_order(\"PF_XBTUSD\", \"buy\", 0.01, \"mkt\")\n"
            "kf.place_order(\"PI_XBTUSD\", \"buy\", 1000, \"mkt\")\n"
            "kf.sim.advance(\"1h\")\n"
            "positions = kf.positions()\n"
            "positions[[\"size\", \"entry_price\", \"mark_price\", \"currency\", \"notional\", \"unrealized_pnl\"]]"
        ),
        md(
            "* **Linear**: P&L in USD = (mark − entry) × size in XBT. Notional in USD = size × mark.\n"
            "* **Inverse**: a contract is 1 USD, so the position is worth contracts / price XBT, and "
            "the P&L in XBT = contracts × (1/entry − 1/mark). The same dollar move is worth fewer "
            "bitcoins the higher the price goes: the inverse contract is not linear in the price.\n\n"
            "By hand:"
        ),
        code(
            "pf, pi = positions.loc[\"PF_XBTUSD\"], positions.loc[\"PI_XBTUSD\"]\n"
            "linear = (pf.mark_price - pf.entry_price) * pf[\"size\"]   # pf.size would be the Series' length\n"
            "inverse = pi[\"size\"] * (1 / pi.entry_price - 1 / pi.mark_price)\n"
            "pd.DataFrame({\"by hand\": [linear, inverse], \"exchange\": [pf.unrealized_pnl, pi.unrealized_pnl],\n"
            "              \"unit\": [\"USD\", \"XBT\"]}, index=[\"PF_XBTUSD\", \"PI_XBTUSD\"])"
        ),
        code(
            "bool(np.isclose(linear, pf.unrealized_pnl, rtol=1e-9)), bool(np.isclose(inverse, pi.unrealized_pnl, rtol=1e-6))"
        ),
        md(
            "## Margin, tier by tier\n\n"
            "Initial margin (IM) is what a position locks up; below the maintenance margin (MM) "
            "it is liquidated. Both are fractions of the notional that grow with the position's "
            "size, tranche by tranche (reference §7.4). Each instrument carries its tiers: in USD "
            "of notional for linear contracts (`numNonContractUnits`), in contracts for inverse "
            "ones:"
        ),
        code("pd.DataFrame(instruments.loc[\"PF_XBTUSD\", \"margin_levels\"]).head(4)"),
        code(
            "def tiered(amount: float, levels: list[dict], key: str, rate: str = \"initialMargin\") -> float:\n"
            "    \"\"\"Margin on ``amount``: each tranche between two tier bounds at its own rate.\"\"\"\n"
            "    bounds = [level[key] for level in levels] + [float(\"inf\")]\n"
            "    return sum(max(0.0, min(amount, high) - low) * level[rate]\n"
            "               for level, low, high in zip(levels, bounds, bounds[1:]))\n\n\n"
            "pf_im = tiered(pf.notional, instruments.loc[\"PF_XBTUSD\", \"margin_levels\"], \"numNonContractUnits\")\n"
            "pi_im = tiered(pi[\"size\"], instruments.loc[\"PI_XBTUSD\", \"margin_levels\"], \"contracts\") / pi.mark_price\n"
            "accounts = kf.accounts().set_index(\"account\")\n"
            "pd.DataFrame({\"by hand\": [pf_im, pi_im],\n"
            "              \"exchange\": [accounts.loc[\"flex\", \"initial_margin\"].iloc[0], accounts.loc[\"fi_xbtusd\", \"initial_margin\"]],\n"
            "              \"unit\": [\"USD\", \"XBT\"]}, index=[\"flex (PF_XBTUSD)\", \"fi_xbtusd (PI_XBTUSD)\"])"
        ),
        md(
            "Both positions are small, so the first tier (2 % IM, 50x leverage) is all there is. "
            "A large one pays more on the part above each bound:"
        ),
        code(
            "levels = instruments.loc[\"PF_XBTUSD\", \"margin_levels\"]\n"
            "sizes = [500_000, 1_000_000, 1_500_000, 3_000_000]\n"
            "pd.DataFrame({\"notional_usd\": sizes,\n"
            "              \"initial_margin_usd\": [tiered(n, levels, \"numNonContractUnits\") for n in sizes]}).assign(\n"
            "    effective_im=lambda f: f.initial_margin_usd / f.notional_usd, leverage=lambda f: 1 / f.effective_im)"
        ),
        md(
            "## Fees\n\n"
            "A taker pays `taker_fee` (a fraction) of the notional, in the margin currency. The "
            "account log books each trade with its fee:"
        ),
        code(
            "log = kf.account_log(since=\"2h\")\n"
            "trades = log[log[\"info\"] == \"futures trade\"].dropna(subset=[\"fee\"])\n"
            "taker = accounts[\"taker_fee\"].dropna().iloc[0]\n"
            "by_hand = {\"PF_XBTUSD\": 0.01 * pf.entry_price * taker, \"PI_XBTUSD\": 1000 / pi.entry_price * taker}\n"
            "trades.assign(by_hand=trades.contract.map(by_hand))[[\"contract\", \"trade_price\", \"fee\", \"by_hand\", \"currency\"]]"
        ),
        md(
            "## Funding\n\n"
            "A perpetual never expires; instead, every hour, longs pay shorts (or the other way) "
            "so that its price stays near the index. `funding_rate` is an **absolute** amount "
            "per contract for the hour: USD per XBT for PF_, XBT per 1-USD contract for PI_. The "
            "relative rate is the same thing as a fraction of the price. A long pays "
            "size × rate when the rate is positive and receives it when negative:"
        ),
        code(
            "rates = kf.funding_rates(\"PF_XBTUSD\", since=\"3h\")\n"
            "rates[[\"period_end\", \"funding_rate\", \"relative_funding_rate\"]]"
        ),
        code(
            "paid = log[(log[\"info\"] == \"funding rate change\") & (log.contract == \"PF_XBTUSD\")].iloc[0]\n"
            "rate = rates.loc[rates.period_end == paid.name, \"funding_rate\"].iloc[0]\n"
            "{\"booked\": float(paid.realized_funding), \"by hand: -size x rate\": float(-pf[\"size\"] * rate)}"
        ),
        md(
            "The rate that applies is the one of the hour that just ended, and the payment lands "
            "in the account at the top of the hour (the `funding rate change` entries of the "
            "log). An annualised figure is rate × 8,760 hours ÷ price: that is "
            "`funding_rate_annualised` in `kf.tickers()` and `kf.funding_rates()`."
        ),
    ],
    "16-websocket-by-hand": [
        md(
            "# 16 · The WebSocket by hand\n\n"
            "Notebook 08 uses `kf.stream()`. Underneath, the exchange's WebSocket v1 (reference §3) "
            "is a few JSON messages on one socket, `wss://futures.kraken.com/ws/v1`:\n\n"
            "1. the exchange says hello: `{\"event\":\"info\",\"version\":1}`;\n"
            "2. you `subscribe` to a public feed; it answers `subscribed`, then a snapshot, then "
            "updates;\n"
            "3. for private feeds you ask for a `challenge`, sign it, and send the key, the "
            "challenge and its signature with every private `subscribe`;\n"
            "4. keep-alive: a WebSocket ping frame at least every 60 s, and the optional `heartbeat` "
            "feed tells you the exchange is still talking.\n\n"
            "Against the exchange you would open the socket with the `websockets` library "
            "(`async with websockets.connect(\"wss://futures.kraken.com/ws/v1\") as ws:`) and use "
            "`await ws.send(text)` and `await ws.recv()`. Here the simulator's in-process socket "
            "has the same two methods, plus `flush()`, which makes the simulator publish "
            "everything up to its clock: it moves only when we move it, so every output below is "
            "reproducible."
        ),
        code(
            "import asyncio\n"
            "import json\n\n"
            "import kfresearch\n"
            "from kfresearch.stream.inprocess import InProcessSocket\n\n"
            "kf = kfresearch.connect(\"sim\")\n"
            "ws = InProcessSocket(kf.sim)\n\n\n"
            "async def send(message: dict) -> None:\n"
            "    await ws.send(json.dumps(message))\n\n\n"
            "async def received() -> list[dict]:\n"
            "    \"\"\"Every message the exchange has sent so far (up to its clock).\"\"\"\n"
            "    out = []\n\n"
            "    async def read() -> None:\n"
            "        while True:\n"
            "            out.append(json.loads(await ws.recv()))\n\n"
            "    reader = asyncio.get_running_loop().create_task(read())\n"
            "    await ws.flush()\n"
            "    reader.cancel()\n"
            "    return out\n\n\n"
            "await received()"
        ),
        md("## A public feed: subscribe, snapshot, updates"),
        code(
            "await send({\"event\": \"subscribe\", \"feed\": \"ticker\", \"product_ids\": [\"PF_XBTUSD\"]})\n"
            "messages = await received()\n"
            "[(m.get(\"event\") or m.get(\"feed\")) for m in messages]"
        ),
        code("{name: messages[1][name] for name in (\"feed\", \"product_id\", \"bid\", \"ask\", \"markPrice\", \"time\")}"),
        md(
            "WebSocket numbers are JSON numbers and times are epoch milliseconds (REST sends "
            "decimals as strings and ISO times: notebook 12). The ticker feed sends at most one "
            "message a second, stamped with the exchange's clock; move it three seconds on:"
        ),
        code(
            "kf.sim.advance(\"3s\")\n"
            "[(m[\"feed\"], m[\"time\"]) for m in await received()]"
        ),
        md(
            "## Heartbeat\n\n"
            "The `heartbeat` feed sends the exchange's time every few seconds. A client that hears "
            "nothing for a while knows the connection is dead even when the socket looks open."
        ),
        code(
            "await send({\"event\": \"subscribe\", \"feed\": \"heartbeat\"})\n"
            "kf.sim.advance(\"10s\")\n"
            "[m for m in await received() if m.get(\"feed\") != \"ticker\"]"
        ),
        md(
            "## A private feed: the challenge\n\n"
            "There is no token: on the socket, send your public key and get a challenge (a UUID); "
            "sign it with the REST recipe where the message is just the challenge: "
            "`base64(HMAC-SHA-512(base64decode(secret), SHA-256(challenge)))` (reference §3.2)."
        ),
        code(
            "import base64\nimport hashlib\nimport hmac\n\n"
            "creds = kf.sim.credentials(\"full\")\n"
            "api_key, api_secret = creds.key, creds.secret.reveal()   # only in memory, never printed\n\n"
            "await send({\"event\": \"unsubscribe\", \"feed\": \"ticker\", \"product_ids\": [\"PF_XBTUSD\"]})\n"
            "await send({\"event\": \"challenge\", \"api_key\": api_key})\n"
            "answers = await received()\n"
            "challenge = answers[-1][\"message\"]\n"
            "[m[\"event\"] for m in answers], challenge"
        ),
        code(
            "digest = hashlib.sha256(challenge.encode()).digest()\n"
            "signed = base64.b64encode(hmac.new(base64.b64decode(api_secret), digest, hashlib.sha512).digest()).decode()\n\n"
            "from kfresearch.auth import ws_challenge_signature\n\n"
            "signed == ws_challenge_signature(creds.secret, challenge)   # kfresearch signs it the same way"
        ),
        md(
            "Every private subscription on this socket carries the key, the challenge and its "
            "signature. `open_orders` answers with a snapshot of the orders, then one message per "
            "change:"
        ),
        code(
            "auth = {\"api_key\": api_key, \"original_challenge\": challenge, \"signed_challenge\": signed}\n"
            "await send({\"event\": \"subscribe\", \"feed\": \"open_orders\", **auth})\n"
            "[(m.get(\"event\") or m.get(\"feed\")) for m in await received() if m.get(\"feed\") != \"heartbeat\"]"
        ),
        code(
            "kf.place_order(\"PF_XBTUSD\", \"buy\", 0.001, limit_price=50_000, client_order_id=\"nb16-1\")\n"
            "update = [m for m in await received() if m.get(\"feed\") == \"open_orders\"][-1]\n"
            "update[\"order\"][\"cli_ord_id\"], update[\"order\"][\"limit_price\"], update[\"is_cancel\"], update[\"reason\"]"
        ),
        md("A wrong signature, or a request the exchange cannot read, gets an answer of its own:"),
        code(
            "await send({\"event\": \"subscribe\", \"feed\": \"fills\", **auth, \"signed_challenge\": \"AAAA\"})\n"
            "await ws.send(\"not json\")\n"
            "[m for m in await received() if m.get(\"feed\") != \"heartbeat\"]"
        ),
        code("await ws.close()"),
        md(
            "## The same, through kfresearch\n\n"
            "`kf.stream()` does all of this (and reconnects, resubscribes, checks book sequence "
            "numbers). `kf.trace()` records its messages too, in both directions, with the key "
            "shortened:"
        ),
        code(
            "with kf.trace() as t:\n"
            "    s = kf.stream(heartbeat=False)\n"
            "    await s.subscribe(\"open_orders\")\n"
            "    await s.aclose()\n"
            "[(r.direction, r.name) for r in t.ws]"
        ),
        code("[json.loads(r.text).get(\"api_key\") for r in t.ws if r.direction == \"sent\"]"),
    ],
}
