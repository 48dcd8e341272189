from __future__ import annotations

from pathlib import Path

import pytest

from edge.config import load_settings
from edge.config_files import ConfigError, parse_yaml
from edge.sinks.settings import parse_mqtt_url, resolve_mqtt_password
from edge.watch_settings import require_watch_folder

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "station.yaml"
    p.write_text(text)
    return p


def test_defaults_load_without_a_file() -> None:
    s = load_settings()
    assert s.profile == "herbarium_sheet"
    assert s.active_profile.colour_chart.required is True
    assert s.profiles["microscope_slide"].colour_chart.required is False


@pytest.mark.parametrize("name", ["herbarium-station.yaml", "slide-station.yaml"])
def test_shipped_examples_are_valid(name: str) -> None:
    s = load_settings(REPO / "configs" / name)
    assert s.station


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    p = write(tmp_path, "watch:\n  stable_for: 2.0\n")
    with pytest.raises(ConfigError) as err:
        load_settings(p)
    assert str(p) in str(err.value) and "watch.stable_for" in str(err.value) and "unknown key" in str(err.value)


def test_wrong_type_names_expected_and_got(tmp_path: Path) -> None:
    p = write(tmp_path, 'watch:\n  stable_for_s: "two"\nqueues:\n  frames: 1.5\n')
    with pytest.raises(ConfigError) as err:
        load_settings(p)
    msg = str(err.value)
    assert f"{p}: watch.stable_for_s" in msg and "valid number" in msg and "'two'" in msg
    assert f"{p}: queues.frames" in msg


@pytest.mark.parametrize("text,key", [
    ("watch:\n  polling: on\n", "watch.polling"),        # YAML 1.1 would say True
    ("mqtt:\n  enabled: no\n", "mqtt.enabled"),          # YAML 1.1 would say False
    ("queues:\n  frames: 0755\n", "queues.frames"),       # YAML 1.1 would say 493
    ("watch:\n  stable_for_s: 22:30\n", "watch.stable_for_s"),  # YAML 1.1 would say 1350
])
def test_yaml_11_traps_are_errors_not_silent_values(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text))
    assert key in str(err.value)


def test_yaml_scalars_stay_strings() -> None:
    data = parse_yaml("a: on\nb: NO\nc: 0755\nd: 22:30\ne: 1.5\nf: true\ng: 12\nh: 1.0e3\n")
    assert data == {"a": "on", "b": "NO", "c": "0755", "d": "22:30", "e": 1.5, "f": True, "g": 12, "h": 1000.0}


def test_station_named_like_a_boolean_stays_a_name(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "station: 'no'\n")).station == "no"
    assert load_settings(write(tmp_path, "station: no\n")).station == "no"


def test_unknown_profile(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, "profile: insects\n"))
    assert "profile" in str(err.value) and "herbarium_sheet" in str(err.value)


def test_missing_hot_folder_is_named(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, f"watch:\n  folder: {tmp_path / 'nope'}\n"))
    with pytest.raises(ConfigError) as err:
        require_watch_folder(s.watch)
    assert "watch.folder" in str(err.value) and "nope" in str(err.value)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(write(tmp_path, "watch: [\n"))
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(write(tmp_path, "- a\n- b\n"))


def test_password_never_inline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="mqtt.password"):
        load_settings(write(tmp_path, "mqtt:\n  password: hunter2\n"))
    monkeypatch.setenv("SE_TEST_PW", "s3cret")
    s = load_settings(write(tmp_path, "mqtt:\n  password_env: SE_TEST_PW\n"))
    assert resolve_mqtt_password(s.mqtt) == "s3cret"
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    s = load_settings(write(tmp_path, f"mqtt:\n  password_file: {secret}\n"))
    assert resolve_mqtt_password(s.mqtt) == "from-file"
    s = load_settings(write(tmp_path, "mqtt:\n  password_env: SE_TEST_UNSET_VAR\n"))
    with pytest.raises(ConfigError, match="SE_TEST_UNSET_VAR"):
        resolve_mqtt_password(s.mqtt)


def test_mqtt_urls() -> None:
    t = parse_mqtt_url("mqtt://user:p%40ss@broker.local:1884")
    assert (t.host, t.port, t.tls, t.username, t.password) == ("broker.local", 1884, False, "user", "p@ss")
    assert parse_mqtt_url("mqtts://b").port == 8883
    assert parse_mqtt_url("mqtt://b").port == 1883
    for bad in ("http://b", "mqtt://", "mqtt://b:99999", "mqtt://b/topic"):
        with pytest.raises(ValueError):
            parse_mqtt_url(bad)


def test_bad_mqtt_url_in_config_names_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mqtt.url"):
        load_settings(write(tmp_path, "mqtt:\n  url: tcp://x\n"))


def test_blur_classes_must_be_known(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="profiles.herbarium_sheet.blur.classes"):
        load_settings(write(tmp_path, "profiles:\n  herbarium_sheet:\n    blur:\n      classes: [lable]\n"))


def test_region_join_gap_names_a_known_class(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="segmenter.region_join_gap"):
        load_settings(write(tmp_path, "segmenter:\n  region_join_gap:\n    specimens: 3\n"))
    with pytest.raises(ConfigError, match="between 0 and 32"):
        load_settings(write(tmp_path, "segmenter:\n  region_join_gap:\n    specimen: 99\n"))
    assert load_settings(write(tmp_path, "segmenter:\n  region_join_gap:\n    specimen: 3\n")).segmenter \
        .region_join_gap == {"specimen": 3, "label": 2}  # merged over the defaults, class by class


def test_scale_bar_ruler_bands_default_and_bounds(tmp_path: Path) -> None:
    assert load_settings(None).segmenter.scale_bar_min_ruler_bands == 4
    assert load_settings(write(tmp_path, "segmenter:\n  scale_bar_min_ruler_bands: 0\n")).segmenter \
        .scale_bar_min_ruler_bands == 0
    with pytest.raises(ConfigError, match="segmenter.scale_bar_min_ruler_bands"):
        load_settings(write(tmp_path, "segmenter:\n  scale_bar_min_ruler_bands: -1\n"))


def test_chart_and_ruler_settling_defaults_and_bounds(tmp_path: Path) -> None:
    defaults = load_settings(None).segmenter
    assert defaults.check_chart_regions is True and defaults.chart_ruler_min_bands == 6
    assert defaults.grow_scale_bars is True and defaults.trim_scale_bars is True
    off = load_settings(write(tmp_path, "segmenter:\n  check_chart_regions: false\n  chart_ruler_min_bands: 0\n"
                                        "  grow_scale_bars: false\n  trim_scale_bars: false\n"))
    assert off.segmenter.check_chart_regions is False and off.segmenter.chart_ruler_min_bands == 0
    assert off.segmenter.grow_scale_bars is False and off.segmenter.trim_scale_bars is False
    with pytest.raises(ConfigError, match="segmenter.trim_scale_bars"):
        load_settings(write(tmp_path, "segmenter:\n  trim_scale_bars: sometimes\n"))
    with pytest.raises(ConfigError, match="segmenter.chart_ruler_min_bands"):
        load_settings(write(tmp_path, "segmenter:\n  chart_ruler_min_bands: 65\n"))
    with pytest.raises(ConfigError, match="segmenter.check_chart_regions"):
        load_settings(write(tmp_path, "segmenter:\n  check_chart_regions: sometimes\n"))
    assert defaults.stamp_ruler_min_bands == 10
    assert load_settings(write(tmp_path, "segmenter:\n  stamp_ruler_min_bands: 0\n")).segmenter \
        .stamp_ruler_min_bands == 0
    with pytest.raises(ConfigError, match="segmenter.stamp_ruler_min_bands"):
        load_settings(write(tmp_path, "segmenter:\n  stamp_ruler_min_bands: -2\n"))


def test_per_class_score_floors_name_known_classes_and_lie_between_0_and_1(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="segmenter.min_region_score_by_class"):
        load_settings(write(tmp_path, "segmenter:\n  min_region_score_by_class:\n    chart: 0.7\n"))
    with pytest.raises(ConfigError, match="between 0 and 1"):
        load_settings(write(tmp_path, "segmenter:\n  min_region_score_by_class:\n    barcode: 1.5\n"))
    settings = load_settings(write(tmp_path, "segmenter:\n  min_region_score_by_class:\n    barcode: 0.4\n"))
    # a station's floor adds to the defaults' floors
    assert settings.segmenter.min_region_score_by_class == {"colour_chart": 0.68, "stamp": 0.72, "barcode": 0.4}


@pytest.mark.parametrize("text,key", [
    ("mqtt:\n  homeassistant:\n    enabled: true\n    discovery_prefix: 'ha/#'\n",
     "mqtt.homeassistant.discovery_prefix"),
    ("mqtt:\n  homeassistant:\n    discovery_prefix: 'ha/+/x'\n", "mqtt.homeassistant.discovery_prefix"),
    ("mqtt:\n  topic_prefix: '$SYS/edge'\n", "mqtt.topic_prefix"),
    ("upstream:\n  - type: mqtt\n    topic: '$share/x'\n", "upstream.0.mqtt.topic"),
])
def test_wildcard_and_system_topics_are_refused_when_loading(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings(write(tmp_path, text))


def test_password_is_masked_in_every_message(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(None, {"mqtt": {"url": "mqtt://edge:S3cret@broker.local:99999"}})
    assert "S3cret" not in str(err.value) and "mqtt://edge:***@broker.local:99999" in str(err.value)
    with pytest.raises(ValueError) as direct:
        parse_mqtt_url("mqtt://edge:S3cret@broker.local/topic")
    assert "S3cret" not in str(direct.value)
    assert "S3cret" not in repr(parse_mqtt_url("mqtt://edge:S3cret@broker.local"))


@pytest.mark.parametrize("text,key", [
    ("mqtt:\n  url: 'mqtt://edge:S3cret@broker.local:1883'\n", "mqtt.url"),
    ("upstream:\n  - type: mqtt\n    topic: up\n    broker:\n      url: 'mqtts://u:S3cret@b'\n",
     "upstream.0.broker.url"),
])
def test_inline_password_in_a_file_is_refused(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.") + ": a password must not be written") as err:
        load_settings(write(tmp_path, text))
    assert "S3cret" not in str(err.value)
    # the command line may carry one (it is not kept anywhere)
    assert load_settings(None, {"mqtt": {"url": "mqtt://edge:S3cret@b"}}).mqtt.url == "mqtt://edge:S3cret@b"


@pytest.mark.parametrize("listen", ["127.0.0.1:99999", "[::1]:65536"])
def test_http_port_out_of_range_is_a_configuration_error(tmp_path: Path, listen: str) -> None:
    with pytest.raises(ConfigError, match="http.listen: .*port must be between 0 and 65535"):
        load_settings(write(tmp_path, f"http:\n  enabled: true\n  listen: '{listen}'\n"))


def test_a_yaml_syntax_error_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "station: herbarium-1\nwatch: [hotfolder\nprofile: herbarium_sheet\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    message = str(err.value)
    assert "<unicode string>" not in message
    assert f'in "{path}", line 2' in message
