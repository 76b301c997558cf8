//! The message an alert was posted as, kept by the delivery engine between deliveries, and
//! what to do next (pure).

use publish::AlertStatus;
use serde::{Deserialize, Serialize};

use crate::{OnRepeat, OnResolve};

/// Where an alert's message lives: the vendor state kept per (target, fingerprint), stored
/// durably by the queue as `{"channel":"C…","ts":"…","status":"firing"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRef {
    /// Channel id (`chat.update` needs the id, not a name).
    pub channel: String,
    /// The message's timestamp, its id in the channel.
    pub ts: String,
    /// The form the message shows now.
    pub status: AlertStatus,
}

impl MessageRef {
    /// Reads the stored state; anything unreadable counts as no message.
    pub fn from_state(state: Option<&serde_json::Value>) -> Option<Self> {
        let r: MessageRef = serde_json::from_value(state?.clone()).ok()?;
        (!r.channel.is_empty() && !r.ts.is_empty()).then_some(r)
    }

    /// The state to store.
    pub fn to_state(&self) -> serde_json::Value {
        serde_json::json!({"channel": self.channel, "ts": self.ts, "status": self.status})
    }
}

/// A thread reply to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// "Resolved after …".
    Resolved {
        /// Also show it in the channel.
        broadcast: bool,
    },
    /// "Still firing since …".
    StillFiring,
}

/// What one delivery does in token mode, in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Edit the existing message into the alert's current form.
    pub(crate) update: Option<MessageRef>,
    /// Post a new top-level message.
    pub(crate) post: bool,
    /// Reply in the existing message's thread.
    pub(crate) reply: Option<(MessageRef, Reply)>,
}

impl Plan {
    fn post() -> Self {
        Plan {
            update: None,
            post: true,
            reply: None,
        }
    }
}

/// Decides what to do for an alert of `status` whose message is `previous`:
///
/// * firing, no message or a resolved one → post a new message;
/// * firing again (after the repeat interval) → per `on_repeat`: update and reply "still
///   firing", update only, or post anew;
/// * resolved, no message → post the resolved form;
/// * resolved, firing message → per `on_resolve`: update it, reply in its thread (either, both;
///   with neither, post the resolved form);
/// * resolved, already resolved (a replay) → update again, no second reply.
pub(crate) fn plan(
    status: AlertStatus,
    previous: Option<&MessageRef>,
    on_resolve: &OnResolve,
    on_repeat: OnRepeat,
) -> Plan {
    let Some(prev) = previous else {
        return Plan::post();
    };
    match (status, prev.status) {
        (AlertStatus::Firing, AlertStatus::Resolved) => Plan::post(),
        (AlertStatus::Firing, AlertStatus::Firing) => match on_repeat {
            OnRepeat::New => Plan::post(),
            OnRepeat::Update => Plan {
                update: Some(prev.clone()),
                post: false,
                reply: None,
            },
            OnRepeat::Reply => Plan {
                update: Some(prev.clone()),
                post: false,
                reply: Some((prev.clone(), Reply::StillFiring)),
            },
        },
        (AlertStatus::Resolved, AlertStatus::Resolved) => Plan {
            update: on_resolve.update_message.then(|| prev.clone()),
            post: false,
            reply: None,
        },
        (AlertStatus::Resolved, AlertStatus::Firing) => {
            if !on_resolve.update_message && !on_resolve.thread_reply {
                return Plan::post();
            }
            Plan {
                update: on_resolve.update_message.then(|| prev.clone()),
                post: false,
                reply: on_resolve.thread_reply.then(|| {
                    (
                        prev.clone(),
                        Reply::Resolved {
                            broadcast: on_resolve.reply_broadcast,
                        },
                    )
                }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AlertStatus::{Firing, Resolved};

    fn msg(status: AlertStatus) -> MessageRef {
        MessageRef {
            channel: "C1".to_owned(),
            ts: "1.000001".to_owned(),
            status,
        }
    }

    fn check(
        status: AlertStatus,
        prev: Option<AlertStatus>,
        on_resolve: OnResolve,
        on_repeat: OnRepeat,
        expected: (bool, bool, Option<Reply>),
    ) {
        let prev = prev.map(msg);
        let p = plan(status, prev.as_ref(), &on_resolve, on_repeat);
        let got = (p.update.is_some(), p.post, p.reply.map(|(_, r)| r));
        assert_eq!(
            got, expected,
            "{status:?} after {prev:?} with {on_resolve:?} {on_repeat:?}"
        );
    }

    #[test]
    fn lifecycle() {
        let d = OnResolve::default();
        let reply = Some(Reply::Resolved { broadcast: false });
        check(
            Firing,
            None,
            d.clone(),
            OnRepeat::Reply,
            (false, true, None),
        );
        check(
            Firing,
            Some(Resolved),
            d.clone(),
            OnRepeat::Reply,
            (false, true, None),
        );
        check(
            Firing,
            Some(Firing),
            d.clone(),
            OnRepeat::Reply,
            (true, false, Some(Reply::StillFiring)),
        );
        check(
            Firing,
            Some(Firing),
            d.clone(),
            OnRepeat::Update,
            (true, false, None),
        );
        check(
            Firing,
            Some(Firing),
            d.clone(),
            OnRepeat::New,
            (false, true, None),
        );
        check(
            Resolved,
            None,
            d.clone(),
            OnRepeat::Reply,
            (false, true, None),
        );
        check(
            Resolved,
            Some(Firing),
            d.clone(),
            OnRepeat::Reply,
            (true, false, reply),
        );
        check(
            Resolved,
            Some(Resolved),
            d.clone(),
            OnRepeat::Reply,
            (true, false, None),
        );
        let no_update = OnResolve {
            update_message: false,
            ..d.clone()
        };
        check(
            Resolved,
            Some(Firing),
            no_update,
            OnRepeat::Reply,
            (false, false, reply),
        );
        let no_reply = OnResolve {
            thread_reply: false,
            ..d.clone()
        };
        check(
            Resolved,
            Some(Firing),
            no_reply,
            OnRepeat::Reply,
            (true, false, None),
        );
        let neither = OnResolve {
            update_message: false,
            thread_reply: false,
            reply_broadcast: false,
        };
        check(
            Resolved,
            Some(Firing),
            neither,
            OnRepeat::Reply,
            (false, true, None),
        );
        let broadcast = OnResolve {
            reply_broadcast: true,
            ..d
        };
        check(
            Resolved,
            Some(Firing),
            broadcast,
            OnRepeat::Reply,
            (true, false, Some(Reply::Resolved { broadcast: true })),
        );
    }

    #[test]
    fn state_round_trip() {
        let m = msg(Firing);
        assert_eq!(
            m.to_state(),
            serde_json::json!({"channel": "C1", "ts": "1.000001", "status": "firing"})
        );
        assert_eq!(MessageRef::from_state(Some(&m.to_state())), Some(m));
        assert_eq!(MessageRef::from_state(None), None);
        assert_eq!(
            MessageRef::from_state(Some(&serde_json::json!({"dedup_key": "x"}))),
            None
        );
        assert_eq!(
            MessageRef::from_state(Some(
                &serde_json::json!({"channel": "", "ts": "1", "status": "firing"})
            )),
            None
        );
    }
}
