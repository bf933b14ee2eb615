"""The adapter reads TLS and API keys as Temporal's tools do; master.cfg's address and namespace win."""

import os
import tempfile

from twisted.trial import unittest

from latent_worker_buildbot.connection import ConnectionSettingError, TemporalUnreachable, connect_kwargs, describe

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


class ConnectKwargsTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.cert = os.path.join(self.dir, "client.pem")
        with open(self.cert, "w") as f:
            f.write(PEM)
        # No user's temporal.toml: a path that does not exist is "no file", as for Temporal's CLI.
        self.env = {"TEMPORAL_CONFIG_FILE": os.path.join(self.dir, "none.toml")}

    def test_plain_by_default_and_master_cfg_wins(self) -> None:
        kwargs = connect_kwargs("temporal.example:7233", "ci", env={**self.env, "TEMPORAL_ADDRESS": "elsewhere:1", "TEMPORAL_NAMESPACE": "other"})
        self.assertEqual(kwargs["target_host"], "temporal.example:7233")
        self.assertEqual(kwargs["namespace"], "ci")
        self.assertFalse(kwargs.get("tls"))
        self.assertEqual(describe(kwargs), "temporal.example:7233, namespace ci, no TLS")

    def test_an_api_key_turns_tls_on_and_is_never_described(self) -> None:
        kwargs = connect_kwargs("t:7233", "ci", env={**self.env, "TEMPORAL_API_KEY": "s3cret-key"})
        self.assertEqual(kwargs["api_key"], "s3cret-key")
        self.assertTrue(kwargs["tls"])
        self.assertNotIn("s3cret-key", describe(kwargs))
        self.assertIn("API key", describe(kwargs))

    def test_a_certificate_without_its_key_is_refused_naming_both(self) -> None:
        with self.assertRaises(ConnectionSettingError) as raised:
            connect_kwargs("t:7233", "ci", env={**self.env, "TEMPORAL_TLS_CLIENT_CERT_PATH": self.cert})
        self.assertIn("TEMPORAL_TLS_CLIENT_CERT_PATH", str(raised.exception))
        self.assertIn("TEMPORAL_TLS_CLIENT_KEY_PATH", str(raised.exception))
        # The adapter's lifecycle client turns every TemporalUnreachable into its LifecycleError.
        self.assertIsInstance(raised.exception, TemporalUnreachable)

    def test_a_missing_file_is_refused_naming_the_setting(self) -> None:
        missing = os.path.join(self.dir, "no-such-ca.pem")
        with self.assertRaises(ConnectionSettingError) as raised:
            connect_kwargs("t:7233", "ci", env={**self.env, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": missing})
        self.assertIn("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(raised.exception))
        self.assertIn("no such file", str(raised.exception))

    def test_a_profile_of_temporal_toml(self) -> None:
        toml = os.path.join(self.dir, "temporal.toml")
        with open(toml, "w") as f:
            f.write('[profile.cloud]\naddress = "x:1"\napi_key = "k"\n[profile.cloud.tls]\nserver_name = "temporal.example"\n')
        kwargs = connect_kwargs("t:7233", "ci", profile="cloud", env={"TEMPORAL_CONFIG_FILE": toml})
        self.assertEqual(kwargs["api_key"], "k")
        self.assertEqual(kwargs["tls"].domain, "temporal.example")
        with self.assertRaises(ConnectionSettingError) as raised:
            connect_kwargs("t:7233", "ci", profile="nope", env={"TEMPORAL_CONFIG_FILE": toml})
        self.assertIn("nope", str(raised.exception))
