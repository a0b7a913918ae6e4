//! What the lane takes and what it leaves to hyper.

use super::*;

const ID: &str = "c_0123456789abcdef0123456789abcdef";

fn grab(extra: &str) -> String {
    format!(
        "POST /v1/campaigns/{ID}/grab HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n{extra}\r\n"
    )
}

fn taken(text: &str) -> GrabHead<'_> {
    match parse(text.as_bytes()) {
        Head::Grab(head) => head,
        other => panic!("not taken: {other:?} for {text:?}"),
    }
}

fn left(text: &str) {
    assert!(
        matches!(parse(text.as_bytes()), Head::Other),
        "taken: {text:?}"
    );
}

#[test]
fn a_plain_grab_is_taken_with_its_headers() {
    let text = grab(
        "Content-Length: 0\r\nIdempotency-Key: k1\r\nX-Forwarded-For: 1.2.3.4\r\nx-forwarded-for: 5.6.7.8, 9.9.9.9\r\nAuthorization: Bearer second\r\n",
    );
    let head = taken(&text);
    assert_eq!(head.len, text.len());
    assert_eq!(head.campaign, CampaignId::parse(ID).unwrap());
    assert_eq!(
        head.authorization,
        Some(&b"Bearer t"[..]),
        "the first line, as HeaderMap::get"
    );
    assert_eq!(head.idempotency_key, Some(&b"k1"[..]));
    assert_eq!(
        head.forwarded_lines(),
        &[&b"1.2.3.4"[..], &b"5.6.7.8, 9.9.9.9"[..]]
    );
    assert!(!head.close);
    assert!(taken(&grab("Connection: keep-alive, close\r\n")).close);
    assert!(!taken(&grab("Connection: Keep-Alive\r\n")).close);
    // A query is ignored, as by the router.
    let with_query = format!("POST /v1/campaigns/{ID}/grab?x=1 HTTP/1.1\r\n\r\n");
    assert_eq!(taken(&with_query).authorization, None);
}

#[test]
fn a_head_in_pieces_is_partial_until_whole_and_pipelined_bytes_stay() {
    let text = grab("");
    for cut in 0..text.len() {
        assert!(
            matches!(parse(&text.as_bytes()[..cut]), Head::Partial),
            "cut at {cut}"
        );
    }
    let two = format!("{text}GET /healthz HTTP/1.1\r\n\r\n");
    assert_eq!(taken(&two).len, text.len());
}

#[test]
fn everything_else_goes_to_hyper() {
    left(&format!("GET /v1/campaigns/{ID}/grab HTTP/1.1\r\n\r\n"));
    left(&format!("POST /v1/campaigns/{ID}/grab HTTP/1.0\r\n\r\n"));
    left(&format!("POST /v1/campaigns/{ID}/grab/ HTTP/1.1\r\n\r\n"));
    left(&format!("POST /v1/campaigns/{ID}/x/grab HTTP/1.1\r\n\r\n"));
    left(&format!("POST /v1/campaigns/{ID} HTTP/1.1\r\n\r\n"));
    left(&format!(
        "POST http://x/v1/campaigns/{ID}/grab HTTP/1.1\r\n\r\n"
    ));
    left("POST /v1/campaigns/c_nothex/grab HTTP/1.1\r\n\r\n");
    left("POST /v1/campaigns//grab HTTP/1.1\r\n\r\n");
    left(&grab("Content-Length: 2\r\n"));
    left(&grab("Content-Length: 0\r\nContent-Length: 1\r\n"));
    left(&grab("Transfer-Encoding: chunked\r\n"));
    left(&grab("Expect: 100-continue\r\n"));
    left(&grab("Connection: upgrade\r\nUpgrade: websocket\r\n"));
    left(&grab(
        &"X-Forwarded-For: 1.1.1.1\r\n".repeat(MAX_FORWARDED_LINES + 1),
    ));
    left(&grab(&"X-A: 1\r\n".repeat(MAX_HEADERS)));
    left("POST /v1/campaigns/\x01/grab HTTP/1.1\r\n\r\n");
    left("NOT HTTP AT ALL\r\n\r\n");
    // A head that does not end within the limit.
    left(&format!(
        "POST /v1/campaigns/{ID}/grab HTTP/1.1\r\nX-Long: {}",
        "a".repeat(MAX_HEAD_BYTES)
    ));
    // The largest head the lane waits for is still taken.
    assert!(matches!(
        parse(format!("POST /v1/campaigns/{ID}/grab HTTP/1.1\r\n").as_bytes()),
        Head::Partial
    ));
}
