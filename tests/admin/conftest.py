import pytest

from tests.admin.kit import close_site, open_site


@pytest.fixture
async def site(tmp_path):
    site = await open_site(tmp_path)
    yield site
    await close_site(site)
