"""WorkerSpec building: defaults and camelCase as src/config/load.ts's specFor, errors naming the argument."""

from twisted.trial import unittest

from latent_worker_buildbot.spec import ServerOptions, SpecError, SpecInputs, Timing, check_server_options, worker_spec

IMAGE = "8ac9d4a4-5e03-48b0-acde-77a0345a9ab1"


def spec_of(server: ServerOptions, **inputs: object) -> dict:
    return worker_spec(SpecInputs(**{"name": "bot2", "cloud": "http://keystone/v2.0#tenant", "server": server, **inputs}))


class WorkerSpecTest(unittest.TestCase):
    def test_the_seed_example_gets_the_config_files_defaults(self) -> None:
        self.assertEqual(
            spec_of(ServerOptions(flavor=1, image=IMAGE)),
            {
                "name": "bot2",
                "cloud": "http://keystone/v2.0#tenant",
                "flavor": "1",
                "image": IMAGE,
                "meta": {},
                "clientVersion": "2",
                "missingTimeoutSeconds": 1200,
                "bootTimeoutSeconds": 600,
                "buildWaitTimeoutSeconds": 600,
                "launchAttempts": 3,
                "notifyOnMissing": [],
            },
        )

    def test_block_devices_selectors_and_nova_args_are_carried_in_the_lifecycles_names(self) -> None:
        server = ServerOptions(
            flavor="m1.small",
            image={"name": "^debian-12", "tags": ["ci"], "pick": "newest"},
            block_devices=[{"uuid": IMAGE, "volume_size": 20}, {"uuid": IMAGE, "source_type": "image", "destination_type": "local", "boot_index": -1}],
            meta={"owner": "ci"},
            nova_args={"availability_zone": "nova", "nics": [{"net-id": IMAGE}]},
            client_version="2.60",
        )
        self.assertEqual(
            check_server_options(server),
            {
                "flavor": "m1.small",
                "image": {"name": "^debian-12", "tags": ["ci"], "pick": "newest"},
                "meta": {"owner": "ci"},
                "clientVersion": "2.60",
                "blockDevices": [
                    {"uuid": IMAGE, "volumeSize": 20, "deviceName": "vda", "sourceType": "image", "destinationType": "volume", "deleteOnTermination": True, "bootIndex": 0},
                    {"uuid": IMAGE, "deviceName": "vda", "sourceType": "image", "destinationType": "local", "deleteOnTermination": True, "bootIndex": -1},
                ],
                "novaArgs": {"availability_zone": "nova", "nics": [{"net-id": IMAGE}]},
            },
        )

    def test_timing_and_recipients_come_through(self) -> None:
        spec = spec_of(ServerOptions(flavor="1", image=IMAGE), timing=Timing(missing_timeout=60, boot_timeout=30, build_wait_timeout=0, launch_attempts=1), notify_on_missing=["ops@example.org"])
        self.assertEqual(
            (spec["missingTimeoutSeconds"], spec["bootTimeoutSeconds"], spec["buildWaitTimeoutSeconds"], spec["launchAttempts"], spec["notifyOnMissing"]),
            (60, 30, 0, 1, ["ops@example.org"]),
        )

    def test_bad_input_is_refused_naming_the_argument(self) -> None:
        cases = [
            ({"name": "bad name"}, "name:"),
            ({"server": ServerOptions(flavor=-1, image=IMAGE)}, "flavor:"),
            ({"server": ServerOptions(flavor=1)}, "image: give image, block_devices, or both"),
            ({"server": ServerOptions(flavor=1, image=42)}, "image: 42 must be an image UUID or name, a callable"),
            ({"server": ServerOptions(flavor=1, image={"name": "x"})}, "image.pick:"),
            ({"server": ServerOptions(flavor=1, image={"name": "(", "pick": "newest"})}, "image.name:"),
            ({"server": ServerOptions(flavor=1, image={"pick": "newest", "size": 1})}, "unknown selector key(s) ['size']"),
            ({"server": ServerOptions(flavor=1, block_devices=[])}, "block_devices:"),
            ({"server": ServerOptions(flavor=1, block_devices=[{"uuid": "nope"}])}, "block_devices[0].uuid:"),
            ({"server": ServerOptions(flavor=1, block_devices=[{"uuid": IMAGE, "source_type": "volume", "destination_type": "local"}])}, "block_devices[0].destination_type: local needs source_type image"),
            ({"server": ServerOptions(flavor=1, block_devices=[{"uuid": IMAGE, "volume_size": 0}])}, "block_devices[0].volume_size:"),
            ({"server": ServerOptions(flavor=1, block_devices=[{"uuid": IMAGE, "size": 1}])}, "block_devices[0]: unknown key(s) ['size']"),
            ({"server": ServerOptions(flavor=1, image=IMAGE, meta={"bad/key": "x"})}, "meta: key 'bad/key'"),
            ({"server": ServerOptions(flavor=1, image=IMAGE, meta={"k": 1})}, "meta.k:"),
            ({"server": ServerOptions(flavor=1, image=IMAGE, nova_args={"x": object()})}, "nova_args: values must be plain data"),
            ({"server": ServerOptions(flavor=1, image=IMAGE, client_version="3")}, "client_version:"),
            ({"server": ServerOptions(flavor=1, image=IMAGE, client_version=2.60)}, "client_version: 2.6 must be written as text"),
            ({"timing": Timing(missing_timeout=0)}, "missing_timeout:"),
            ({"timing": Timing(boot_timeout="10")}, "boot_timeout:"),
            ({"timing": Timing(build_wait_timeout=None)}, "build_wait_timeout:"),
            ({"timing": Timing(launch_attempts=21)}, "launch_attempts:"),
            ({"notify_on_missing": ["not-an-address"]}, "notify_on_missing:"),
            ({"cloud": ""}, "cloud:"),
        ]
        for inputs, message in cases:
            arguments = {"server": ServerOptions(flavor=1, image=IMAGE), **inputs}
            with self.assertRaises(SpecError, msg=f"{inputs} was accepted") as raised:
                spec_of(**arguments)
            self.assertIn(message, str(raised.exception))
