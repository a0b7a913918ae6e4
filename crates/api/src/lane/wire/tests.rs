//! The bytes of an answer: what hyper would write for the router's response.

use super::*;

const NOW: UnixMillis = UnixMillis(784_111_777_000); // Sun, 06 Nov 1994 08:49:37 GMT

fn written(answer: GrabAnswer, close: bool) -> String {
    let mut date = DateCache::default();
    let date = *date.at(NOW);
    let mut out = Vec::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    if let Some(rest) = try_write(answer, &date, close, &mut out) {
        rt.block_on(write_rest(rest, &date, close, &mut out));
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn the_date_is_an_imf_fixdate_formatted_once_a_second() {
    let mut date = DateCache::default();
    assert_eq!(date.at(NOW), b"Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(
        date.at(UnixMillis(NOW.0 + 999)),
        b"Sun, 06 Nov 1994 08:49:37 GMT"
    );
    assert_eq!(
        date.at(UnixMillis(NOW.0 + 1000)),
        b"Sun, 06 Nov 1994 08:49:38 GMT"
    );
}

#[test]
fn sold_out_is_its_status_line_headers_and_static_body() {
    let body = r#"{"error":{"code":"sold_out","message":"sold out"}}"#;
    assert_eq!(
        written(GrabAnswer::Outcome(GrabOutcome::SoldOut), false),
        format!(
            "HTTP/1.1 410 Gone\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n{body}",
            body.len()
        )
    );
    assert!(
        written(GrabAnswer::Outcome(GrabOutcome::SoldOut), true)
            .contains("\r\nconnection: close\r\ncontent-length: ")
    );
}

#[test]
fn a_refusal_keeps_its_own_headers_and_its_body() {
    let error = AppError::RuleLimited {
        unavailable: false,
        retry_after_secs: 3,
    };
    let text = written(GrabAnswer::Refused(error.clone()), false);
    let body = String::from_utf8(error.serialized_body()).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nretry-after: 3\r\n"), "{text}");
    assert!(
        text.ends_with(&format!(
            "content-length: {}\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n{body}",
            body.len()
        )),
        "{text}"
    );
    // An answer that closes the connection says so once.
    let timeout = written(GrabAnswer::Refused(AppError::RequestTimeout), true);
    assert_eq!(timeout.matches("connection: close").count(), 1, "{timeout}");
}

#[test]
fn every_refusal_outcome_and_error_is_written_with_its_status_and_body() {
    let is_written_as = |answer: GrabAnswer, error: &AppError| {
        let text = written(answer, false);
        let status_line = format!("HTTP/1.1 {} ", error.status().as_str());
        let body = String::from_utf8(error.serialized_body()).unwrap();
        assert!(
            text.starts_with(&status_line) && text.ends_with(&body),
            "{text}"
        );
    };
    for outcome in [
        GrabOutcome::SoldOut,
        GrabOutcome::NotStarted,
        GrabOutcome::Ended,
        GrabOutcome::CampaignNotFound,
    ] {
        let error = outcome_error(&outcome).unwrap();
        is_written_as(GrabAnswer::Outcome(outcome), &error);
    }
    for error in AppError::EVERY {
        is_written_as(GrabAnswer::Refused(error.clone()), error);
    }
}
