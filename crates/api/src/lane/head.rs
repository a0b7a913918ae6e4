//! Reading a request head from raw bytes: a grab the lane answers, or anything else (handed
//! to hyper untouched). Pure: bytes in, a verdict out; nothing here allocates.

use stampede_core::CampaignId;

/// Most header lines in a head the lane answers; a head with more goes to hyper (whose own
/// limit answers 431).
pub const MAX_HEADERS: usize = 32;
/// Most `X-Forwarded-For` lines in a head the lane answers; more go to hyper.
pub const MAX_FORWARDED_LINES: usize = 8;
/// Most bytes of a head the lane waits for; a longer one goes to hyper (whose own limits
/// then apply).
pub const MAX_HEAD_BYTES: usize = 8 * 1024;

const PREFIX: &str = "/v1/campaigns/";
const SUFFIX: &str = "/grab";

/// What the bytes at the start of a connection's buffer are.
#[derive(Debug)]
// Returned by value once per request and never stored: boxing the grab would allocate.
#[allow(clippy::large_enum_variant)]
pub enum Head<'b> {
    /// Not a whole head yet, and not yet something the lane leaves to hyper.
    Partial,
    /// A grab the lane answers.
    Grab(GrabHead<'b>),
    /// Anything else (another route, a body, an upgrade, HTTP/1.0, a malformed head, a head
    /// past [`MAX_HEAD_BYTES`]): the connection goes to hyper from these bytes on.
    Other,
}

/// A grab's head: `POST /v1/campaigns/{id}/grab` over HTTP/1.1 with no body.
#[derive(Debug)]
pub struct GrabHead<'b> {
    /// Bytes of the buffer the head took.
    pub len: usize,
    /// The campaign.
    pub campaign: CampaignId,
    /// The first `Authorization` line.
    pub authorization: Option<&'b [u8]>,
    /// The first `Idempotency-Key` line.
    pub idempotency_key: Option<&'b [u8]>,
    /// The `X-Forwarded-For` lines, in order (the first `forwarded_count`).
    pub forwarded: [&'b [u8]; MAX_FORWARDED_LINES],
    /// How many of `forwarded` are lines.
    pub forwarded_count: usize,
    /// The client asked to close the connection after the answer (`Connection: close`).
    pub close: bool,
}

impl GrabHead<'_> {
    /// The `X-Forwarded-For` lines.
    pub fn forwarded_lines(&self) -> &[&[u8]] {
        &self.forwarded[..self.forwarded_count]
    }
}

/// Reads the head at the start of `buf`.
pub fn parse(buf: &[u8]) -> Head<'_> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD_BYTES => return Head::Partial,
        // Too long, too many headers, or malformed: hyper answers it as it always has.
        Ok(httparse::Status::Partial) | Err(_) => return Head::Other,
    };
    if request.method != Some("POST") || request.version != Some(1) {
        return Head::Other;
    }
    let Some(campaign) = request.path.and_then(grab_campaign) else {
        return Head::Other;
    };
    let mut head = GrabHead {
        len,
        campaign,
        authorization: None,
        idempotency_key: None,
        forwarded: [&[]; MAX_FORWARDED_LINES],
        forwarded_count: 0,
        close: false,
    };
    for header in request.headers.iter() {
        let name = header.name;
        let value = header.value;
        if name.eq_ignore_ascii_case("authorization") {
            head.authorization.get_or_insert(value);
        } else if name.eq_ignore_ascii_case("idempotency-key") {
            head.idempotency_key.get_or_insert(value);
        } else if name.eq_ignore_ascii_case("x-forwarded-for") {
            if head.forwarded_count == MAX_FORWARDED_LINES {
                return Head::Other;
            }
            head.forwarded[head.forwarded_count] = value;
            head.forwarded_count += 1;
        } else if name.eq_ignore_ascii_case("content-length") {
            if value.trim_ascii() != b"0" {
                return Head::Other;
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    head.close = true;
                } else if !token.eq_ignore_ascii_case(b"keep-alive") {
                    // `upgrade` or a hop-by-hop header list: hyper's business.
                    return Head::Other;
                }
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("expect")
            || name.eq_ignore_ascii_case("upgrade")
        {
            return Head::Other;
        }
    }
    Head::Grab(head)
}

/// The campaign of a grab's path (`/v1/campaigns/{id}/grab`, any query ignored, as the
/// router does); `None` for any other path or an id that does not parse (the router then
/// answers, as before).
fn grab_campaign(target: &str) -> Option<CampaignId> {
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    let id = path.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if id.contains('/') {
        return None;
    }
    CampaignId::parse(id)
}

#[cfg(test)]
mod tests;
