//! `--shadow`: a rehearsal. Every user's token is a shadow token, so the server decides the
//! grabs against the campaign's shadow copy and sells nothing. Before the run the copy is
//! reset (the rehearsal starts with the whole stock) and the real winners are read; after
//! it, the books the audit checks are the copy's, beside the real campaign's before and
//! after ([`RealSide`]).

use crate::admin::{AdminClient, AdminError, CampaignView, Winner};
use crate::audit::RealSide;

/// The real campaign as the rehearsal found it.
pub(crate) struct Started {
    before: CampaignView,
    winners_before: Vec<Winner>,
}

/// What the audit reads after a rehearsal.
pub(crate) struct Books {
    /// The copy at the start: the whole stock, no winner.
    pub before: CampaignView,
    /// The copy now.
    pub after: CampaignView,
    /// The copy's winners.
    pub winners: Vec<Winner>,
    /// The real campaign around the run.
    pub real: RealSide,
}

impl Books {
    /// (copy before, copy after, its winners, the real side), as the audit takes them.
    pub(crate) fn into_parts(self) -> (CampaignView, CampaignView, Vec<Winner>, Option<RealSide>) {
        (self.before, self.after, self.winners, Some(self.real))
    }
}

/// Resets `real`'s shadow copy and reads the real winners.
pub(crate) async fn start(
    admin: &mut AdminClient,
    real: &CampaignView,
) -> Result<Started, AdminError> {
    admin.reset_shadow(&real.id).await?;
    Ok(Started {
        before: real.clone(),
        winners_before: admin.all_winners(&real.id).await?,
    })
}

/// Reads the copy and the real campaign after the run.
pub(crate) async fn finish(admin: &mut AdminClient, started: Started) -> Result<Books, AdminError> {
    let id = started.before.id.clone();
    let copy_before = CampaignView {
        remaining: started.before.total,
        ..started.before.clone()
    };
    // No copy: no shadow grab reached it (all refused before), so it never left its start.
    let copy_after = match admin.shadow(&id).await? {
        Some(copy) => CampaignView {
            status: copy.status,
            total: copy.total,
            remaining: copy.remaining,
            ..started.before.clone()
        },
        None => copy_before.clone(),
    };
    Ok(Books {
        before: copy_before,
        after: copy_after,
        winners: admin.all_shadow_winners(&id).await?,
        real: RealSide {
            after: admin.campaign(&id).await?,
            winners_after: admin.all_winners(&id).await?,
            before: started.before,
            winners_before: started.winners_before,
        },
    })
}
