"""WeCom crypto: the published vectors from docs/wecom.md plus the security rules."""

import base64

import defusedxml.ElementTree as DET
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.channels.wecom import crypto
from bot.channels.wecom.crypto import (
    BadPayload,
    BadReceiver,
    BadSignature,
    BadTimestamp,
    WeComCrypto,
    WeComCryptoError,
    parse_message,
    signature,
)

# Vector A: Tencent's official Python sample.
A_TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
A_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
A_CORP = "ww1436e0e65a779aee"
A_GET = {
    "msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
    "timestamp": "1476416373",
    "nonce": "47744683",
    "echostr": (
        "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
    ),
}
A_POST_SIG = "0c3914025cb4b4d68103f6bfc8db550f79dcf48e"
A_POST_TS = "1476422779"
A_POST_NONCE = "1597212914"
A_POST_ENCRYPT = (
    "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGz"
    "BhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3J"
    "WcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQH"
    "E7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYu"
    "PDGOCI8jmnKiypE+"
)
A_POST_PLAIN = (
    "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
    "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
    "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
)

# Vector B: the official documentation's worked example.
B_TOKEN = "QDG6eK"
B_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
B_CORP = "wx5823bf96d3bd56c7"
B_GET = {
    "msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
    "timestamp": "1409659589",
    "nonce": "263014780",
    "echostr": (
        "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
    ),
}

# Vector C: fixed random bytes (Official Account sample, same algorithm).
C_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
C_RECEIVER = "wxb11529c136998cb6"
C_RANDOM = b"aaaabbbbccccdddd"
C_MSG = "我是中文abcd123"
C_CIPHER = (
    "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
)

OTHER_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkj"


def a_crypto(keys=(A_KEY,)) -> WeComCrypto:
    return WeComCrypto(A_TOKEN, list(keys), A_CORP)


def outer(encrypt: str) -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[{A_CORP}]]></ToUserName><AgentID>1000002</AgentID>"
        f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    ).encode()


def aes_key(encoding_aes_key: str) -> bytes:
    return base64.b64decode(encoding_aes_key + "=")


def seal(plain: bytes, encoding_aes_key: str = A_KEY) -> str:
    """Encrypt hand-built plaintext (already a multiple of 16 bytes) the way WeCom does."""
    key = aes_key(encoding_aes_key)
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def pad32(data: bytes) -> bytes:
    n = 32 - len(data) % 32
    return data + bytes([n]) * n


def post(c: WeComCrypto, encrypt: str, ts: str = "1700000000", nonce: str = "42") -> str:
    """Sign and submit a POST body the way WeCom would."""
    sig = signature(A_TOKEN, ts, nonce, encrypt)
    return c.decrypt_message(sig, ts, nonce, outer(encrypt), now=float(ts))


# --- published vectors ------------------------------------------------------------------------


def test_vector_a_get_signature():
    expected = A_GET["msg_signature"]
    assert signature(A_TOKEN, A_GET["timestamp"], A_GET["nonce"], A_GET["echostr"]) == expected


def test_vector_a_get_verify_url():
    assert a_crypto().verify_url(**A_GET) == "1288432023552776189"


def test_vector_a_post_signature():
    assert signature(A_TOKEN, A_POST_TS, A_POST_NONCE, A_POST_ENCRYPT) == A_POST_SIG


def test_vector_a_post_decrypts_to_exact_xml():
    inner = a_crypto().decrypt_message(
        A_POST_SIG, A_POST_TS, A_POST_NONCE, outer(A_POST_ENCRYPT), now=float(A_POST_TS)
    )
    assert inner == A_POST_PLAIN
    fields = parse_message(inner)
    assert fields["Content"] == "你好"
    assert fields["MsgId"] == "1456453720"
    assert fields["MsgType"] == "text"
    assert fields["FromUserName"] == "ChenJiaShun"


def test_vector_a_post_uses_32_byte_padding():
    # Pad 22 > 16: a 16-byte PKCS#7 unpadder would reject this real ciphertext.
    key = aes_key(A_KEY)
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = dec.update(base64.b64decode(A_POST_ENCRYPT)) + dec.finalize()
    assert plain[-1] == 22


def test_vector_b_get():
    assert signature(B_TOKEN, B_GET["timestamp"], B_GET["nonce"], B_GET["echostr"]) == (
        B_GET["msg_signature"]
    )
    assert WeComCrypto(B_TOKEN, [B_KEY], B_CORP).verify_url(**B_GET) == "1616140317555161061"


def test_vector_c_fixed_random_encryption():
    c = WeComCrypto("token", [C_KEY], C_RECEIVER)
    assert c.encrypt_raw(C_MSG, random16=C_RANDOM) == C_CIPHER
    assert c.decrypt(C_CIPHER) == C_MSG


def test_vector_c_reply_envelope():
    c = WeComCrypto("token", [C_KEY], C_RECEIVER)
    sig = signature("token", "1409304348", "xxxxxx", C_CIPHER)
    assert c.encrypt(C_MSG, "xxxxxx", "1409304348", random16=C_RANDOM) == (
        f"<xml><Encrypt><![CDATA[{C_CIPHER}]]></Encrypt>"
        f"<MsgSignature><![CDATA[{sig}]]></MsgSignature>"
        "<TimeStamp>1409304348</TimeStamp><Nonce><![CDATA[xxxxxx]]></Nonce></xml>"
    )


# --- round trips ------------------------------------------------------------------------------


def test_round_trip_reply_envelope_through_decrypt_message():
    c = a_crypto()
    reply = "<xml><ToUserName>u1</ToUserName><Content>收到 ]]> & <ok></Content></xml>"
    envelope = DET.fromstring(c.encrypt(reply, "nonce1", "1700000000"))
    encrypt = envelope.findtext("Encrypt")
    sig = envelope.findtext("MsgSignature")
    assert envelope.findtext("TimeStamp") == "1700000000"
    assert envelope.findtext("Nonce") == "nonce1"
    assert c.decrypt_message(sig, "1700000000", "nonce1", outer(encrypt), now=1700000000) == reply


@pytest.mark.parametrize("length", range(0, 70))
def test_round_trip_every_padding_length(length):
    # receiveid is 18 bytes: 16 + 4 + 18 + 26 = 64 exercises a full 32-byte pad block.
    c = a_crypto()
    msg = "x" * length
    assert post(c, c.encrypt_raw(msg)) == msg


def test_random_prefix_differs_between_encryptions():
    c = a_crypto()
    assert c.encrypt_raw("same") != c.encrypt_raw("same")


# --- signature --------------------------------------------------------------------------------


def tamper(s: str, i: int = 0) -> str:
    return s[:i] + ("0" if s[i] != "0" else "1") + s[i + 1 :]


@pytest.mark.parametrize("index", [0, 20, 39])
def test_tampered_signature_refused_before_decryption(monkeypatch, index):
    c = a_crypto()
    calls = []
    monkeypatch.setattr(c, "decrypt", lambda *a: calls.append(a))
    monkeypatch.setattr(crypto, "Cipher", lambda *a, **k: calls.append(a))
    with pytest.raises(BadSignature):
        c.decrypt_message(
            tamper(A_POST_SIG, index),
            A_POST_TS,
            A_POST_NONCE,
            outer(A_POST_ENCRYPT),
            now=float(A_POST_TS),
        )
    with pytest.raises(BadSignature):
        c.verify_url(**{**A_GET, "msg_signature": tamper(A_GET["msg_signature"], index)})
    assert calls == []


def test_tampered_ciphertext_refused_by_signature():
    # Signature covers Encrypt: garbage that would fail base64 still yields BadSignature first.
    c = a_crypto()
    with pytest.raises(BadSignature):
        c.decrypt_message(
            A_POST_SIG, A_POST_TS, A_POST_NONCE, outer("!!not base64!!"), now=float(A_POST_TS)
        )


@pytest.mark.parametrize("bad", ["", "0c39", A_POST_SIG.upper(), A_POST_SIG + "0", "é" * 40])
def test_malformed_signatures(bad):
    with pytest.raises(BadSignature):
        a_crypto().verify_signature(bad, A_POST_TS, A_POST_NONCE, A_POST_ENCRYPT)


def test_wrong_token_refused():
    c = WeComCrypto("another-token", [A_KEY], A_CORP)
    with pytest.raises(BadSignature):
        c.verify_url(**A_GET)


# --- plaintext checks -------------------------------------------------------------------------


def test_wrong_receiver():
    sender = WeComCrypto(A_TOKEN, [A_KEY], "ww0000000000000000")
    with pytest.raises(BadReceiver):
        post(a_crypto(), sender.encrypt_raw("hi"))


def test_receiver_prefix_is_not_enough():
    sender = WeComCrypto(A_TOKEN, [A_KEY], A_CORP + "x")
    with pytest.raises(BadReceiver):
        post(a_crypto(), sender.encrypt_raw("hi"))


def frame(msg: bytes, msg_len: int | None = None, receiver: bytes = A_CORP.encode()) -> bytes:
    n = len(msg) if msg_len is None else msg_len
    return b"r" * 16 + n.to_bytes(4, "big") + msg + receiver


GOOD = pad32(frame(b"hello"))  # 43 bytes of frame + 21 bytes of \x15


@pytest.mark.parametrize(
    "plain",
    [
        GOOD[:-1] + b"\x00",  # pad byte 0
        GOOD[:-1] + b"\x21",  # pad byte 33
        GOOD[:-3] + b"\x02\x03\x03",  # claims 3 bytes of pad, one differs
        GOOD[:-21] + b"\x14" + b"\x15" * 20,  # claims 21, the first differs
    ],
    ids=["pad0", "pad33", "nonuniform", "nonuniform-long"],
)
def test_bad_padding(plain):
    assert len(plain) % 16 == 0
    with pytest.raises(BadPayload):
        post(a_crypto(), seal(plain))


def test_msg_len_too_large():
    with pytest.raises(BadPayload):
        post(a_crypto(), seal(pad32(frame(b"hello", msg_len=1000))))


def test_msg_len_swallowing_receiver_is_rejected():
    # msg_len == len - 20 is structurally valid but leaves an empty receiveid.
    body = frame(b"hello")
    with pytest.raises(BadReceiver):
        post(a_crypto(), seal(pad32(frame(b"hello", msg_len=len(body) - 20))))


def test_plaintext_shorter_than_header():
    with pytest.raises(BadPayload):
        post(a_crypto(), seal(pad32(b"short")))


def test_invalid_utf8():
    with pytest.raises(BadPayload):
        post(a_crypto(), seal(pad32(frame(b"\xff\xfe"))))


@pytest.mark.parametrize("encrypt", ["", "abc", "!!!!", base64.b64encode(b"x" * 17).decode()])
def test_bad_base64_or_length(encrypt):
    with pytest.raises(BadPayload):
        post(a_crypto(), encrypt)


# --- timestamps -------------------------------------------------------------------------------


def test_stale_and_future_timestamps():
    c = a_crypto()
    ts = int(A_POST_TS)
    c.check_timestamp(A_POST_TS, now=ts + 300)
    c.check_timestamp(A_POST_TS, now=ts - 300)
    for now in (ts + 301, ts - 301):
        with pytest.raises(BadTimestamp):
            c.check_timestamp(A_POST_TS, now=now)


def test_stale_post_refused_even_with_valid_signature():
    with pytest.raises(BadTimestamp):
        a_crypto().decrypt_message(
            A_POST_SIG,
            A_POST_TS,
            A_POST_NONCE,
            outer(A_POST_ENCRYPT),
            now=float(A_POST_TS) + 301,
        )


@pytest.mark.parametrize("ts", ["", "abc", "12.5", "+1476422779", " 1476422779", "1_476", "١٢٣"])
def test_non_numeric_timestamp(ts):
    with pytest.raises(BadTimestamp):
        a_crypto().check_timestamp(ts, now=1476422779)


# --- outer XML --------------------------------------------------------------------------------


def test_oversized_body():
    body = outer(A_POST_ENCRYPT)
    with pytest.raises(BadPayload):
        a_crypto().decrypt_message(
            A_POST_SIG,
            A_POST_TS,
            A_POST_NONCE,
            body,
            now=float(A_POST_TS),
            max_body=len(body) - 1,
        )
    padded = body + b" " * (64 * 1024 - len(body) + 1)
    with pytest.raises(BadPayload):
        a_crypto().decrypt_message(
            A_POST_SIG, A_POST_TS, A_POST_NONCE, padded, now=float(A_POST_TS)
        )


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE xml [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xml><Encrypt>&lol9;</Encrypt></xml>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><Encrypt>&xxe;</Encrypt></xml>"""

DTD_ONLY = b"""<?xml version="1.0"?>
<!DOCTYPE xml SYSTEM "http://example.invalid/x.dtd">
<xml><Encrypt>abc</Encrypt></xml>"""


@pytest.mark.parametrize(
    "body", [BILLION_LAUGHS, EXTERNAL_ENTITY, DTD_ONLY], ids=["laughs", "xxe", "dtd"]
)
def test_hostile_xml_refused_not_expanded(monkeypatch, body):
    c = a_crypto()
    calls = []
    for name in ("check_timestamp", "verify_signature", "decrypt"):
        monkeypatch.setattr(c, name, lambda *a, _n=name, **k: calls.append(_n))
    with pytest.raises(BadPayload):
        c.decrypt_message("sig", "1", "n", body, now=1)
    assert calls == []
    with pytest.raises(BadPayload):
        parse_message(body.decode())


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<xml><Encrypt>abc</Encrypt>",
        b"<xml><AgentID>1</AgentID></xml>",
        b"<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>",
        b"<root><Encrypt>abc</Encrypt></root>",
    ],
    ids=["empty", "junk", "unclosed", "no-encrypt", "two-encrypt", "wrong-root"],
)
def test_malformed_outer_xml(body):
    with pytest.raises(BadPayload):
        a_crypto().decrypt_message("sig", "1", "n", body, now=1)


# --- parse_message ----------------------------------------------------------------------------


def test_parse_message_event_without_msgid():
    xml = (
        "<xml><ToUserName><![CDATA[ww1]]></ToUserName><FromUserName>u1</FromUserName>"
        "<CreateTime>1</CreateTime><MsgType>event</MsgType><Event>enter_agent</Event>"
        "<EventKey/></xml>"
    )
    assert parse_message(xml) == {
        "ToUserName": "ww1",
        "FromUserName": "u1",
        "CreateTime": "1",
        "MsgType": "event",
        "Event": "enter_agent",
        "EventKey": "",
    }


@pytest.mark.parametrize("junk", ["", "junk", "<xml>", "<other/>"])
def test_parse_message_junk(junk):
    with pytest.raises(BadPayload):
        parse_message(junk)


# --- keys -------------------------------------------------------------------------------------


def test_key_rotation_accepts_previous_key():
    old = a_crypto([OTHER_KEY])
    rotated = a_crypto([A_KEY, OTHER_KEY])
    assert post(rotated, old.encrypt_raw("from old key")) == "from old key"
    assert rotated.verify_url(**A_GET) == "1288432023552776189"


def test_rotation_encrypts_with_current_key_only():
    rotated = a_crypto([A_KEY, OTHER_KEY])
    sealed = rotated.encrypt_raw("new", random16=C_RANDOM)
    assert post(a_crypto([A_KEY]), sealed) == "new"
    with pytest.raises(WeComCryptoError):
        post(a_crypto([OTHER_KEY]), sealed)


def test_unknown_key_fails():
    with pytest.raises(WeComCryptoError):
        a_crypto([OTHER_KEY]).verify_url(**A_GET)


@pytest.mark.parametrize(
    "key",
    [
        A_KEY[:-1],  # 42 chars
        A_KEY + "a",  # 44 chars
        A_KEY[:-1] + "+",
        A_KEY[:-1] + "/",
        A_KEY[:-1] + "=",
        A_KEY[:-1] + "é",
        A_KEY[:-1] + " ",
        "",
    ],
    ids=["42", "44", "plus", "slash", "equals", "non-ascii", "space", "empty"],
)
def test_invalid_encoding_aes_key(key):
    with pytest.raises(ValueError):
        WeComCrypto(A_TOKEN, [key], A_CORP)
    with pytest.raises(ValueError):
        WeComCrypto(A_TOKEN, [A_KEY, key], A_CORP)


@pytest.mark.parametrize(
    "args",
    [
        (A_TOKEN, [], A_CORP),
        (A_TOKEN, A_KEY, A_CORP),
        ("", [A_KEY], A_CORP),
        (A_TOKEN, [A_KEY], ""),
    ],
    ids=["no-keys", "bare-str", "no-token", "no-receiver"],
)
def test_invalid_construction(args):
    with pytest.raises(ValueError):
        WeComCrypto(*args)


def test_crypto_errors_are_not_value_errors():
    # Callers map WeComCryptoError to a refusal; config mistakes (ValueError) must stay distinct.
    assert not issubclass(WeComCryptoError, ValueError)


def test_reply_rejects_unsafe_nonce_and_timestamp():
    c = a_crypto()
    with pytest.raises(ValueError):
        c.encrypt("hi", "a]]>b", "1700000000")
    with pytest.raises(ValueError):
        c.encrypt("hi", "n", "1<x/>")
    with pytest.raises(ValueError):
        c.encrypt_raw("hi", random16=b"short")
