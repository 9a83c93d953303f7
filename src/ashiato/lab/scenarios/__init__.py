"""The storylines, planned in two steps.

:func:`plan` makes every choice that shapes the evidence files themselves (who is patient
zero, when, which PCs were collected, when logs were cleared) before any file is opened;
:func:`arm` then schedules the malicious activities once the collected PCs exist.
"""

from __future__ import annotations

from ashiato.lab.clock import MINUTE, SECOND, at, day_of, is_workday, previous_workday
from ashiato.lab.decoys import pick_decoys
from ashiato.lab.endpoint import Endpoint
from ashiato.lab.ids import rng_for
from ashiato.lab.scenarios import hok, ransomware, spam, vectors, vpn
from ashiato.lab.scenarios.intrusion import VARIANTS as INTRUSION_VARIANTS
from ashiato.lab.sink import Sink
from ashiato.lab.story import Story
from ashiato.lab.world import Host, World

SCENARIOS = ("fileserver-encryption", "mail-attachment", "drive-by", "log-tampering",
             "spam-bot", "benign", "hands-on-keyboard", "vpn-intrusion")
_SHARE = ("fileserver-encryption", "log-tampering")
# Storylines driven by an operator on servers (no PC is patient zero): module per scenario.
INTRUSIONS = {"hands-on-keyboard": hok, "vpn-intrusion": vpn}
# Variants per scenario; the first is the default.
VARIANTS: dict[str, tuple[str, ...]] = {s: ("full",) for s in SCENARIOS}
VARIANTS.update({s: INTRUSION_VARIANTS for s in INTRUSIONS})


def incident_day(world: World) -> int:
    """The last workday before the final day: the final day is the aftermath."""
    day = world.days - 2
    while day > 0 and not is_workday(day):
        day -= 1
    return max(day, 1)


def plan(scenario: str, world: World, seed: int, variant: str = "full") -> Story:
    rng = rng_for(seed, "story", scenario)
    stable = [h for h in world.hosts if not h.mobile]
    pz: Host | None = None
    if scenario in _SHARE:  # a branch PC, as in the motivating case
        pz = rng.choice([h for h in stable if not h.site.hq])
    elif scenario != "benign" and scenario not in INTRUSIONS:
        pz = rng.choice(stable)
    decoys = pick_decoys(world.hosts, rng, {pz.short} if pz else set(), world.days)
    others = [h for h in stable if h is not pz and h is not decoys.renamer
              and h is not decoys.adware]
    collected = ([pz] if pz else []) + [decoys.renamer, decoys.adware] + rng.sample(others, 2)
    kind = None if scenario == "benign" else "spam" if scenario == "spam-bot" else "ransomware"
    story = Story(scenario, kind, decoys, collected, pz=pz, variant=variant)
    story.constrain(day_of(decoys.renamer_at), decoys.renamer, boot_before=decoys.renamer_at)
    story.constrain(day_of(decoys.adware_at), decoys.adware, boot_before=decoys.adware_at)
    if scenario in INTRUSIONS:
        INTRUSIONS[scenario].plan(story, world, rng_for(seed, "intrusion", scenario),
                                  incident_day(world))
        return story
    if pz is None:
        return story
    day = story.day = incident_day(world)
    if scenario == "spam-bot":
        story.vector = "unknown"  # infected before the logs begin
        story.details["spam_day1"] = previous_workday(day)
        return story
    story.vector = {"mail-attachment": "email_attachment", "drive-by": "web_driveby"}.get(
        scenario) or rng.choice(("email_attachment", "web_driveby"))
    t0 = at(day, 10) + rng.randint(0, 270) * MINUTE + rng.randint(0, 59_999)
    t_exec = t0 + vectors.EXEC_DELAY
    cut = t_exec + rng.randint(70, 110 if scenario in _SHARE else 90) * MINUTE
    story.details.update(t0=t0, t_exec=t_exec, isolated_at=cut)
    story.constrain(day, pz, boot_before=t0 - 30 * MINUTE, cut_at=cut, reuse_ip=True)
    story.quarantine(pz, day, world.days)
    if scenario in _SHARE:
        story.share_offline_at = cut + rng.randint(10, 30) * MINUTE
    if scenario == "mail-attachment":
        story.csv_security = pz.short
    if scenario == "log-tampering":
        # The intruder's tool strips the infection chain out of Sysmon, then wevtutil clears
        # Security: the record after the hole (wevtutil itself) makes the hole visible.
        story.sysmon_lost = (t0, t_exec + 50 * SECOND)
        story.clear_at = t_exec + 55 * SECOND
    return story


def arm(story: Story, world: World, seed: int, endpoints: dict[str, Endpoint], sink: Sink,
        audit: bool) -> None:
    """Schedule the storyline's activities (the PCs' endpoints and the files now exist)."""
    if story.scenario in INTRUSIONS:
        INTRUSIONS[story.scenario].arm(story, sink, seed, audit, world.days)
        return
    pz = story.pz
    if pz is None or story.day is None:
        return
    rng = rng_for(seed, "story-run", story.scenario)
    ep = endpoints[pz.short]
    if story.scenario == "spam-bot":
        bot = spam.plan(story, pz, rng, story.details["spam_day1"], story.day)
        story.quarantine(pz, story.day, world.days)
        ep.mft.add(bot.path, rng.randint(90_000, 200_000), at(-20, 16))
        story.facts.artifact(bot.path)
        return
    t0, t_exec = story.details["t0"], story.details["t_exec"]
    inf = ransomware.new_infection(pz, ep, rng, story.details["isolated_at"],
                                   encrypt_share=story.scenario in _SHARE)
    if story.vector == "email_attachment":
        vectors.mail_attachment(story, inf, t0)
    else:
        vectors.drive_by(story, inf, t0)
    ransomware.schedule(story, inf, t_exec)
    if story.clear_at is not None:
        ransomware.schedule_log_clearing(story, inf, story.clear_at)
    story.details.update(family=inf.family.name, note_names=list(inf.family.notes),
                         rename=inf.family.rename, extension=inf.family.ext or None,
                         ip_check=inf.ip_check)
