"""The image callable gets every image as an object with Glance's fields; its answer must be one of them."""

import functools

from temporalio.exceptions import ApplicationError
from twisted.trial import unittest

from latent_worker_buildbot import contract
from latent_worker_buildbot.image_chooser import choose

IMAGES = [
    {"id": "b", "name": "newer", "status": "active", "created_at": "2026-02-01T00:00:00Z", "min_disk": 1, "visibility": "public"},
    {"id": "a", "name": "older", "status": "active", "created_at": "2025-01-01T00:00:00Z", "min_disk": 1, "visibility": "public"},
]


def find_image(images):
    # The seed document's example, in Python 3 (cmp= is gone from sorted).
    cmp = lambda x, y: (x > y) - (x < y)  # noqa: E731
    cmp_fn = lambda x, y: cmp(x.created, y.created)  # noqa: E731
    return sorted(images, key=functools.cmp_to_key(cmp_fn))[0]


class ChooseTest(unittest.TestCase):
    def test_the_seeds_callable_gets_the_oldest(self) -> None:
        self.assertEqual(choose(find_image, "bot2", IMAGES), {"id": "a", "name": "older"})

    def test_images_carry_glance_fields_and_novaclient_names(self) -> None:
        seen = []
        choose(lambda images: seen.extend(images) or images[0], "bot2", IMAGES)
        self.assertEqual([(i.id, i.name, i.status, i.created, i.created_at, i.minDisk, i.visibility) for i in seen], [
            ("b", "newer", "active", "2026-02-01T00:00:00Z", "2026-02-01T00:00:00Z", 1, "public"),
            ("a", "older", "active", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", 1, "public"),
        ])

    def test_a_callable_that_raises_is_named(self) -> None:
        def seed_as_written(images):
            return sorted(images, cmp=lambda x, y: 0)[0]

        with self.assertRaises(ApplicationError) as raised:
            choose(seed_as_written, "bot2", IMAGES)
        self.assertIn("image callable ChooseTest.test_a_callable_that_raises_is_named.<locals>.seed_as_written raised TypeError", str(raised.exception))
        self.assertTrue(raised.exception.non_retryable)
        self.assertEqual(raised.exception.type, contract.FAILURE_IMAGE_FUNCTION_FAILED)

    def test_an_answer_that_is_not_one_of_the_images_is_refused(self) -> None:
        for answer in ("a", None, {"id": "a"}):
            with self.assertRaises(ApplicationError) as raised:
                choose(lambda images: answer, "bot2", IMAGES)
            self.assertIn(f"returned {answer!r}, which is not one of the 2 images", str(raised.exception))
